// Least-privilege data-plane roles for the app's identity, each on the one resource it needs,
// and for the three kinds of people (README "Security"), each optional and each on one
// container or the vault only: the uploader, the report reader, the secret administrator.
// No control-plane roles, no account keys.
param principalId string
param exportsStorageName string
param hostStorageName string
param keyVaultName string
param appInsightsName string
param exportsContainerName string
param reportsContainerName string
param uploaderPrincipalId string
param uploaderPrincipalType string
param reportReaderPrincipalId string
param reportReaderPrincipalType string
param secretAdminPrincipalId string
param secretAdminPrincipalType string

// Built-in role definition ids.
var role = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
  keyVaultSecretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'
  storageBlobDataReader: '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1'
}

resource exportsStorage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: exportsStorageName
}

resource hostStorage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: hostStorageName
}

resource exportsBlobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' existing = {
  parent: exportsStorage
  name: 'default'
}

resource exportsContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = {
  parent: exportsBlobService
  name: exportsContainerName
}

resource reportsContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = {
  parent: exportsBlobService
  name: reportsContainerName
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

// The uploader (the EHR server's identity, or whoever drops exports) may write blobs into the
// exports container and do nothing else. No built-in role does that: Storage Blob Data
// Contributor also reads, deletes and moves blobs, and deletes the container through Resource
// Manager (its containers/delete action), which a role-assignment condition cannot restrict
// (conditions apply to data actions only). blobs/write alone covers Put Blob, Put Block and
// Put Block List (Microsoft's "Azure built-in roles for Storage" and "Actions and attributes
// for Azure role assignment conditions for Azure Blob Storage"). It does not allow listing,
// reading, or deleting; an overwrite keeps the earlier content as a blob version, which the
// uploader can neither read nor delete.
var blobWrite = 'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write'

resource uploaderRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = if (!empty(uploaderPrincipalId)) {
  name: guid(resourceGroup().id, exportsStorageName, 'ehr-export-uploader')
  properties: {
    roleName: 'EHR export uploader (${exportsStorageName})'
    description: 'Write blobs into the EHR exports container: no read, list or delete, no control-plane action.'
    type: 'CustomRole'
    assignableScopes: [
      resourceGroup().id
    ]
    permissions: [
      {
        actions: []
        notActions: []
        dataActions: [
          blobWrite
        ]
        notDataActions: []
      }
    ]
  }
}

resource uploader 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(uploaderPrincipalId)) {
  name: guid(exportsContainer.id, uploaderPrincipalId, 'ehr-export-uploader')
  scope: exportsContainer
  properties: {
    roleDefinitionId: uploaderRole.id
    principalId: uploaderPrincipalId
    principalType: uploaderPrincipalType
  }
}

// The report reader reads the daily status reports (counts, file names, reasons; no row
// values) and nothing else: not the exports, not the quarantine.
resource reportReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(reportReaderPrincipalId)) {
  name: guid(reportsContainer.id, reportReaderPrincipalId, role.storageBlobDataReader)
  scope: reportsContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.storageBlobDataReader)
    principalId: reportReaderPrincipalId
    principalType: reportReaderPrincipalType
  }
}

// The secret administrator sets and rotates the Entra app's client secret: Key Vault Secrets
// Officer on this vault only, which holds nothing but that secret. No storage role at all.
resource secretAdmin 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(secretAdminPrincipalId)) {
  name: guid(vault.id, secretAdminPrincipalId, role.keyVaultSecretsOfficer)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.keyVaultSecretsOfficer)
    principalId: secretAdminPrincipalId
    principalType: secretAdminPrincipalType
  }
}
