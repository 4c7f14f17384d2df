// Key Vault for the Entra app's client secret (or certificate). RBAC authorisation only (no
// access policies), soft delete with purge protection. The secret itself is set by the
// operator (README "Deploy to Azure"); it is never a template parameter or output.
param name string
param location string
param tags object
param privateNetworking bool
@description('Log Analytics workspace that receives the vault\'s audit events.')
param workspaceId string

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  // checkov:skip=CKV_AZURE_109: the firewall denies by default with privateNetworking; without it the Flex Consumption app reaches the vault over its public endpoint (Functions is not a trusted service), with Entra auth and RBAC
  // checkov:skip=CKV_AZURE_189: public network access is off with privateNetworking; without it every request still needs an Entra token and a Key Vault RBAC role
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    enabledForDeployment: false
    enabledForDiskEncryption: false
    enabledForTemplateDeployment: false
    publicNetworkAccess: privateNetworking ? 'Disabled' : 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: privateNetworking ? 'Deny' : 'Allow'
    }
  }
}

// Every read, write and failed attempt on the client secret, with the caller's identity and
// address: Key Vault writes AuditEvent only through a diagnostic setting (it lands in the
// AzureDiagnostics table; infra/queries/audit/secret-access.kql reads it).
resource audit 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'vault-audit'
  scope: vault
  properties: {
    workspaceId: workspaceId
    logs: [
      {
        category: 'AuditEvent'
        enabled: true
      }
    ]
  }
}

output id string = vault.id
output name string = vault.name
output uri string = vault.properties.vaultUri
