// The exports account: exports, quarantine and reports containers, the chunk queue and its
// poison queue, the ledger table. It holds PHI, so: HTTPS only, TLS 1.2, no public blob
// access, no shared keys (Entra only), versioning and soft delete, and a lifecycle policy
// that deletes old exports. The Functions host's own containers live in another account
// (host-storage.bicep), so no rule here can touch them.
param name string
param location string
param tags object
param sku string
param exportsContainer string
param quarantineContainer string
param reportsContainer string
param coverageContainer string
param chunkQueue string
param ledgerTable string
param exportRetentionDays int
param quarantineRetentionDays int
param reportRetentionDays int
param softDeleteDays int
param privateNetworking bool
param allowedIpRanges array
@description('Log Analytics workspace that receives the blob audit trail.')
param workspaceId string

// Public endpoint: on unless private networking is on and no IP range is allowed.
var publicAccess = !privateNetworking || !empty(allowedIpRanges)

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_43: the name is 'st' + baseName (3-10 lowercase letters or digits) + 'x' + 6 characters of uniqueString: always 11-19 lowercase letters and digits
  // checkov:skip=CKV_AZURE_206: the SKU is the exportsStorageSku parameter, geo-redundant (Standard_GZRS) by default; ZRS is allowed for hospitals whose data must stay in one region
  // checkov:skip=CKV_AZURE_35: default action is Deny with privateNetworking; without it the Flex Consumption app reaches Storage over its public endpoint (Functions is not a trusted service), with Entra auth only (shared keys disabled)
  // checkov:skip=CKV_AZURE_59: public network access is off with privateNetworking (unless exportsAllowedIpRanges lets the EHR server in); without it access is Entra-only over TLS 1.2
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
    publicNetworkAccess: publicAccess ? 'Enabled' : 'Disabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: privateNetworking ? 'Deny' : 'Allow'
      ipRules: [for range in allowedIpRanges: {
        value: range
        action: 'Allow'
      }]
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
    isVersioningEnabled: true
    deleteRetentionPolicy: {
      enabled: true
      days: softDeleteDays
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: softDeleteDays
    }
  }
}

// Who read, wrote or deleted which blob (exports, quarantine, reports) and with which identity:
// Storage writes these data-plane logs only through a diagnostic setting on the blob service
// itself (Azure Monitor's "Storage monitoring data reference"; nothing is logged by default).
// They land in the StorageBlobLogs table; infra/queries/audit/ reads them.
var blobAuditCategories = [
  'StorageRead'
  'StorageWrite'
  'StorageDelete'
]

resource blobAudit 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'blob-audit'
  scope: blobService
  properties: {
    workspaceId: workspaceId
    logs: [for category in blobAuditCategories: {
      category: category
      enabled: true
    }]
  }
}

resource exports 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: exportsContainer
  properties: {
    publicAccess: 'None'
  }
}

resource quarantine 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: quarantineContainer
  properties: {
    publicAccess: 'None'
  }
}

resource reports 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: reportsContainer
  properties: {
    publicAccess: 'None'
  }
}

// Keyed hashes of employee logins (coverage), one blob a run: never a login.
resource coverage 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: coverageContainer
  properties: {
    publicAccess: 'None'
  }
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource queue 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = {
  parent: queueService
  name: chunkQueue
}

// The host moves a message here after maxDequeueCount (host.json); created up front so the
// poison alert and the replay command find it.
resource poisonQueue 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = {
  parent: queueService
  name: '${chunkQueue}-poison'
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource ledger 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = {
  parent: tableService
  name: ledgerTable
}

// Lifecycle: only the four data containers of this account, by prefix; versions left behind
// by overwrites and deletes go after the soft-delete window.
resource lifecycle 'Microsoft.Storage/storageAccounts/managementPolicies@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    policy: {
      rules: [
        {
          name: 'delete-old-exports'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: {
              blobTypes: [
                'blockBlob'
              ]
              prefixMatch: [
                '${exportsContainer}/'
              ]
            }
            actions: {
              baseBlob: {
                delete: {
                  daysAfterModificationGreaterThan: exportRetentionDays
                }
              }
              version: {
                delete: {
                  daysAfterCreationGreaterThan: softDeleteDays
                }
              }
            }
          }
        }
        {
          name: 'delete-old-quarantine'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: {
              blobTypes: [
                'blockBlob'
              ]
              prefixMatch: [
                '${quarantineContainer}/'
              ]
            }
            actions: {
              baseBlob: {
                delete: {
                  daysAfterModificationGreaterThan: quarantineRetentionDays
                }
              }
              version: {
                delete: {
                  daysAfterCreationGreaterThan: softDeleteDays
                }
              }
            }
          }
        }
        {
          name: 'delete-old-reports'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: {
              blobTypes: [
                'blockBlob'
              ]
              prefixMatch: [
                '${reportsContainer}/'
              ]
            }
            actions: {
              baseBlob: {
                delete: {
                  daysAfterModificationGreaterThan: reportRetentionDays
                }
              }
              version: {
                delete: {
                  daysAfterCreationGreaterThan: softDeleteDays
                }
              }
            }
          }
        }
        {
          // The hashes' retention bound (shared/common/hashsets.py RETENTION, 31 days; the report
          // deletes them too): Purview keeps a profile 30 days, nothing needs them longer.
          name: 'delete-old-coverage-hashes'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: {
              blobTypes: [
                'blockBlob'
              ]
              prefixMatch: [
                '${coverageContainer}/'
              ]
            }
            actions: {
              baseBlob: {
                delete: {
                  daysAfterModificationGreaterThan: 31
                }
              }
              version: {
                delete: {
                  daysAfterCreationGreaterThan: softDeleteDays
                }
              }
            }
          }
        }
      ]
    }
  }
}

output id string = account.id
output name string = account.name
output blobEndpoint string = account.properties.primaryEndpoints.blob
output queueEndpoint string = account.properties.primaryEndpoints.queue
output tableEndpoint string = account.properties.primaryEndpoints.table
