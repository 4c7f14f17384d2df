// Least-privilege data-plane roles for the app's identity, each on the one resource it needs,
// and optionally for the operator. No control-plane roles, no account keys.
param principalId string
param exportsStorageName string
param hostStorageName string
param keyVaultName string
param appInsightsName string
param operatorPrincipalId string
param operatorPrincipalType string

// Built-in role definition ids.
var role = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
  keyVaultSecretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'
}

resource exportsStorage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: exportsStorageName
}

resource hostStorage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: hostStorageName
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

// Exports account: read exports, move rejected ones to quarantine, write reports (blob data
// contributor is enough: Owner only adds ACL management, which a non-HNS account lacks);
// send, receive and delete chunk messages and create the blob trigger's poison queue;
// read and write the ledger table.
var exportsRoles = [
  role.storageBlobDataContributor
  role.storageQueueDataContributor
  role.storageTableDataContributor
]

resource exportsAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for roleId in exportsRoles: {
  name: guid(exportsStorage.id, principalId, roleId)
  scope: exportsStorage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}]

// Host storage: what the Functions host documents for identity-based AzureWebJobsStorage
// (blob leases and the deployment package need Blob Data Owner).
var hostRoles = [
  role.storageBlobDataOwner
  role.storageQueueDataContributor
  role.storageTableDataContributor
]

resource hostAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for roleId in hostRoles: {
  name: guid(hostStorage.id, principalId, roleId)
  scope: hostStorage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}]

// Key Vault: read secret values, nothing else (not list keys, not write).
resource secretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, principalId, role.keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.keyVaultSecretsUser)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

// Application Insights with local auth disabled: publish telemetry with the identity.
resource metricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, principalId, role.monitoringMetricsPublisher)
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.monitoringMetricsPublisher)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

// The operator: set the secret, drop exports and read reports. Optional.
resource operatorSecrets 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(operatorPrincipalId)) {
  name: guid(vault.id, operatorPrincipalId, role.keyVaultSecretsOfficer)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.keyVaultSecretsOfficer)
    principalId: operatorPrincipalId
    principalType: operatorPrincipalType
  }
}

resource operatorBlobs 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(operatorPrincipalId)) {
  name: guid(exportsStorage.id, operatorPrincipalId, role.storageBlobDataContributor)
  scope: exportsStorage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.storageBlobDataContributor)
    principalId: operatorPrincipalId
    principalType: operatorPrincipalType
  }
}
