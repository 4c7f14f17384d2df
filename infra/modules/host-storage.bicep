// The Functions host's own storage (AzureWebJobsStorage: leases, timers, blob-trigger poison
// queue) and the Flex Consumption deployment package container. Identity-based only; no
// lifecycle policy here, so nothing ever deletes the host's or the deployment's containers.
param name string
param location string
param tags object
param deploymentContainer string
param privateNetworking bool
@description('Redundancy of the host account: Standard_LRS exists in every region, Standard_ZRS only in regions with availability zones.')
param sku string

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_43: the name is 'st' + baseName (3-10 lowercase letters or digits) + 'h' + 6 characters of uniqueString: always 11-19 lowercase letters and digits
  // checkov:skip=CKV_AZURE_206: host state (leases, timer status) and the deployment package are rebuilt by a redeploy, so geo-replication buys nothing; the hostStorageSku parameter is Standard_LRS by default (every region has it) or Standard_ZRS where the region has zones
  // checkov:skip=CKV_AZURE_35: default action is Deny with privateNetworking; without it the Flex Consumption host reaches its storage over the public endpoint (Functions is not a trusted service), with Entra auth only
  // checkov:skip=CKV_AZURE_59: public network access is off with privateNetworking; without it access is Entra-only over TLS 1.2 (shared keys disabled)
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: sku
  }
  properties: {
    accessTier: 'Hot'
    supportsHttpsTrafficOnly: true
    minimumTlsVersion: 'TLS1_2'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowCrossTenantReplication: false
    publicNetworkAccess: privateNetworking ? 'Disabled' : 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: privateNetworking ? 'Deny' : 'Allow'
    }
    encryption: {
      keySource: 'Microsoft.Storage'
      requireInfrastructureEncryption: true
      services: {
        blob: {
          enabled: true
        }
        file: {
          enabled: true
        }
        queue: {
          enabled: true
          keyType: 'Account'
        }
        table: {
          enabled: true
          keyType: 'Account'
        }
      }
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

resource packages 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainer
  properties: {
    publicAccess: 'None'
  }
}

output id string = account.id
output name string = account.name
output blobEndpoint string = account.properties.primaryEndpoints.blob
