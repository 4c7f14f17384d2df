// The whole EHR audit-log ingestion system, deployed into one (empty) resource group:
//   azd up                      (azure.yaml; parameters from main.parameters.json and the azd
//                                environment; the post-deploy hook runs scripts/post-deploy.sh)
//   az deployment group create -g <rg> -f infra/main.bicep -p baseName=... entraClientId=... alertEmail=...
// One module per concern under modules/. After `func azure functionapp publish`, run
// scripts/post-deploy.sh to create the Event Grid subscription that feeds the blob trigger.
//
// Written within what pycep-parser 0.5.1 (checkov's Bicep parser) understands: no typed
// arrays, nullable types, spread, user-defined functions, imports, lambdas or newer
// built-ins (objectKeys, items, coalesce, tryGet). tests/infra checks every file parses.
targetScope = 'resourceGroup'

// ---------------------------------------------------------------- where and what names
@description('Azure region of every resource. Defaults to the resource group\'s region.')
param location string = resourceGroup().location

@description('Short lowercase name (3-10 letters or digits) that every resource name starts from.')
@minLength(3)
@maxLength(10)
param baseName string = 'ehringest'

@description('Tags applied to every resource.')
param tags object = {
  workload: 'ehr-audit-ingest'
}

// ---------------------------------------------------------------- the connectors (app settings)
@description('Connectors, as in the CONNECTORS app setting: [{ name, kind: healthcare|epic|hr, job_id, chunk_rows }]. Default: infra/connectors.json, which both azd and the az CLI path read.')
param connectors array = loadJsonContent('connectors.json')

@description('Tenant (directory) id of the Entra app the Purview connector was created with.')
param entraTenantId string = tenant().tenantId

@description('Application (client) id of that Entra app. Its secret goes into Key Vault, set by the secret administrator.')
param entraClientId string

@description('Microsoft cloud of the Purview connector: gives the Entra authority and ingestion hosts.')
@allowed(['public', 'gcc', 'gcchigh', 'dod'])
param cloud string = 'public'

@description('App settings whose defaults (shared/common/settings.py) you change, by name, e.g. { "REPORT_SCHEDULE": "0 0 5 * * *", "INGESTION_URL": "https://webhook-gcc.ingestion.office365.us/api/signals" }. Not the container, queue and table names: the template creates those.')
param settingOverrides object = {}

// ---------------------------------------------------------------- scale
@description('Flex Consumption: most instances the app scales out to (1-1000; the platform default is 100).')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Flex Consumption: memory of one instance in MB (CPU grows with it).')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

// ---------------------------------------------------------------- retention
@description('Days after which exports (processed or not) are deleted from the exports container.')
@minValue(1)
param exportRetentionDays int = 30

@description('Days after which rejected files are deleted from the quarantine container.')
@minValue(1)
param quarantineRetentionDays int = 30

@description('Days after which status reports are deleted from the reports container.')
@minValue(1)
param reportRetentionDays int = 400

@description('Days deleted or overwritten blobs (and containers) stay recoverable.')
@minValue(1)
@maxValue(365)
param softDeleteDays int = 7

@description('Days Log Analytics keeps logs and Application Insights telemetry.')
@minValue(30)
@maxValue(730)
param logRetentionDays int = 90

@description('Storage redundancy of the exports account. Geo-redundant by default; choose Standard_ZRS where data must stay in one region. exportRetention=archive needs Standard_GRS or Standard_RAGRS (no Archive tier on ZRS, GZRS, RA-GZRS).')
@allowed([
  'Standard_GZRS'
  'Standard_RAGZRS'
  'Standard_GRS'
  'Standard_RAGRS'
  'Standard_ZRS'
])
param exportsStorageSku string = 'Standard_GZRS'

@description('EXPORT_RETENTION: what happens to an export once every chunk is uploaded (keep, archive, delete). archive needs exportsStorageSku Standard_GRS or Standard_RAGRS; any other SKU fails the deployment.')
@allowed([
  'keep'
  'archive'
  'delete'
])
param exportRetention string = 'keep'

@description('Storage redundancy of the Functions host\'s own account: Standard_LRS exists in every region; Standard_ZRS only where the region has availability zones.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
])
param hostStorageSku string = 'Standard_LRS'

// ---------------------------------------------------------------- alerts
@description('Email address the alerts are sent to.')
param alertEmail string

@description('Hours without a new export (per deployment) before the stale-export alert fires; exports are daily.')
@minValue(1)
@maxValue(48)
param staleExportHours int = 26

@description('Days without a successful upload of an hr connector (employee profiles) before the report and the alert warn; Microsoft recommends a refresh every 15 to 20 days.')
@minValue(1)
@maxValue(29)
param hrRefreshWarnDays int = 15

@description('Days without a successful upload of an hr connector before the report fails and the severe alert fires; Purview deletes employee profiles not refreshed within 30 days.')
@minValue(1)
@maxValue(29)
param hrRefreshFailDays int = 25

// ---------------------------------------------------------------- networking
@description('Private networking: VNet integration of the app, private endpoints for both storage accounts and Key Vault, and their public network access turned off.')
param privateNetworking bool = false

@description('With privateNetworking: public IP ranges (CIDR) still allowed to drop files into the exports account, e.g. the EHR server\'s egress address. Empty = private endpoint only.')
param exportsAllowedIpRanges array = []

@description('With privateNetworking: public IP ranges (CIDR) allowed to call the app, e.g. the operators\' egress address for the HTTP status report (a function key is still required) and for code deployments (the SCM site follows the same rules). Empty = Event Grid only; then read the report from the reports container.')
param operatorAllowedIpRanges array = []

@description('With privateNetworking: address space of the new VNet and its two subnets.')
param vnetAddressPrefix string = '10.40.0.0/16'
param appSubnetPrefix string = '10.40.0.0/24'
param privateEndpointSubnetPrefix string = '10.40.1.0/24'

// ---------------------------------------------------------------- people (README "Security")
// Three separate principals, each optional (empty = no assignment), each with one role on one
// container or the vault. Object ids of a user, a group or a service principal.
@description('Optional object id of the uploader (the EHR server\'s identity, or a group): may only write into the exports container (a custom role with blobs/write alone): no read, list or delete.')
param uploaderPrincipalId string = ''

@description('Principal type of uploaderPrincipalId.')
@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param uploaderPrincipalType string = 'ServicePrincipal'

@description('Optional object id of who reads the daily status reports: Storage Blob Data Reader on the reports container only.')
param reportReaderPrincipalId string = ''

@description('Principal type of reportReaderPrincipalId.')
@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param reportReaderPrincipalType string = 'Group'

@description('Optional object id of who sets and rotates the Entra app\'s client secret: Key Vault Secrets Officer on the vault only.')
param secretAdminPrincipalId string = ''

@description('Principal type of secretAdminPrincipalId.')
@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param secretAdminPrincipalType string = 'User'

// ---------------------------------------------------------------- names
var suffix = take(uniqueString(subscription().id, resourceGroup().id, baseName), 6)
// Storage account names: lowercase letters and digits only.
var storageBase = toLower(replace(baseName, '-', ''))
var names = {
  identity: 'id-${baseName}-${suffix}'
  exportsStorage: 'st${storageBase}x${suffix}'
  hostStorage: 'st${storageBase}h${suffix}'
  keyVault: 'kv-${baseName}-${suffix}'
  logAnalytics: 'log-${baseName}-${suffix}'
  appInsights: 'appi-${baseName}-${suffix}'
  plan: 'plan-${baseName}-${suffix}'
  functionApp: 'func-${baseName}-${suffix}'
  systemTopic: 'evgt-${baseName}-${suffix}'
  actionGroup: 'ag-${baseName}-${suffix}'
  vnet: 'vnet-${baseName}-${suffix}'
  deploymentContainer: 'app-package'
  // Data names: the same defaults as shared/common/settings.py.
  exportsContainer: 'exports'
  quarantineContainer: 'quarantine'
  reportsContainer: 'reports'
  coverageContainer: 'coverage'
  chunkQueue: 'ehr-chunks'
  ledgerTable: 'ingestledger'
  secretName: 'ingestion-client-secret'
  coverageKeyName: 'coverage-hash-key'
}

// ---------------------------------------------------------------- archive needs an LRS/GRS account
// The Archive access tier does not exist on ZRS, GZRS or RA-GZRS accounts (Azure Storage
// access tiers overview): there, EXPORT_RETENTION=archive would leave every export Hot with
// only a warning. The deployment refuses the combination instead, whether the value comes
// from exportRetention or from settingOverrides. ARM evaluates only the branch a condition
// picks, and no object has the property named by the message, so the error names it
// ("The language expression property '...' doesn't exist"). any() keeps the Bicep compiler
// from typing the empty object and refusing the access at build time.
var archiveTierMissing = [
  'Standard_ZRS'
  'Standard_GZRS'
  'Standard_RAGZRS'
]
var effectiveRetention = toLower(string(contains(settingOverrides, 'EXPORT_RETENTION') ? settingOverrides.EXPORT_RETENTION : exportRetention))
var archiveImpossible = (effectiveRetention == 'archive') && contains(archiveTierMissing, exportsStorageSku)
var refusal = any(json('{}'))
var checkedExportsSku = archiveImpossible ? refusal['EXPORT_RETENTION=archive needs exportsStorageSku Standard_GRS or Standard_RAGRS: the Archive tier does not exist on ZRS, GZRS or RA-GZRS accounts'] : exportsStorageSku

// ---------------------------------------------------------------- modules
module identity 'modules/identity.bicep' = {
  name: 'identity'
  params: {
    name: names.identity
    location: location
    tags: tags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    logAnalyticsName: names.logAnalytics
    appInsightsName: names.appInsights
    location: location
    tags: tags
    retentionDays: logRetentionDays
  }
}

module exportsStorage 'modules/exports-storage.bicep' = {
  name: 'exports-storage'
  params: {
    name: names.exportsStorage
    location: location
    tags: tags
    sku: checkedExportsSku
    exportsContainer: names.exportsContainer
    quarantineContainer: names.quarantineContainer
    reportsContainer: names.reportsContainer
    coverageContainer: names.coverageContainer
    chunkQueue: names.chunkQueue
    ledgerTable: names.ledgerTable
    exportRetentionDays: exportRetentionDays
    quarantineRetentionDays: quarantineRetentionDays
    reportRetentionDays: reportRetentionDays
    softDeleteDays: softDeleteDays
    privateNetworking: privateNetworking
    allowedIpRanges: exportsAllowedIpRanges
    workspaceId: monitoring.outputs.workspaceId
  }
}

module hostStorage 'modules/host-storage.bicep' = {
  name: 'host-storage'
  params: {
    name: names.hostStorage
    location: location
    tags: tags
    deploymentContainer: names.deploymentContainer
    privateNetworking: privateNetworking
    sku: hostStorageSku
  }
}

module keyVault 'modules/key-vault.bicep' = {
  name: 'key-vault'
  params: {
    name: names.keyVault
    location: location
    tags: tags
    privateNetworking: privateNetworking
    workspaceId: monitoring.outputs.workspaceId
  }
}

module network 'modules/network.bicep' = if (privateNetworking) {
  name: 'network'
  params: {
    name: names.vnet
    location: location
    tags: tags
    addressPrefix: vnetAddressPrefix
    appSubnetPrefix: appSubnetPrefix
    privateEndpointSubnetPrefix: privateEndpointSubnetPrefix
    exportsStorageId: exportsStorage.outputs.id
    hostStorageId: hostStorage.outputs.id
    keyVaultId: keyVault.outputs.id
  }
}

module roles 'modules/roles.bicep' = {
  name: 'roles'
  params: {
    principalId: identity.outputs.principalId
    exportsStorageName: exportsStorage.outputs.name
    hostStorageName: hostStorage.outputs.name
    keyVaultName: keyVault.outputs.name
    appInsightsName: monitoring.outputs.appInsightsName
    exportsContainerName: names.exportsContainer
    reportsContainerName: names.reportsContainer
    uploaderPrincipalId: uploaderPrincipalId
    uploaderPrincipalType: uploaderPrincipalType
    reportReaderPrincipalId: reportReaderPrincipalId
    reportReaderPrincipalType: reportReaderPrincipalType
    secretAdminPrincipalId: secretAdminPrincipalId
    secretAdminPrincipalType: secretAdminPrincipalType
  }
}

// Every app setting the function app gets, in one place. tests/infra/test_drift.py checks
// this list against shared/common/settings.py SETTINGS, local.settings.sample.json and the
// README table: a setting the code reads is added here (value or default), nothing else.
var appSettings = union({
  // Functions host storage and the exports account: identity-based, no keys anywhere.
  AzureWebJobsStorage__accountName: hostStorage.outputs.name
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identity.outputs.clientId
  ExportsStorage__blobServiceUri: exportsStorage.outputs.blobEndpoint
  ExportsStorage__queueServiceUri: exportsStorage.outputs.queueEndpoint
  ExportsStorage__tableServiceUri: exportsStorage.outputs.tableEndpoint
  ExportsStorage__credential: 'managedidentity'
  ExportsStorage__clientId: identity.outputs.clientId
  // DefaultAzureCredential (Key Vault) picks the user-assigned identity from this.
  AZURE_CLIENT_ID: identity.outputs.clientId
  // Application Insights with Entra authentication (local auth is off).
  APPLICATIONINSIGHTS_CONNECTION_STRING: monitoring.outputs.connectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identity.outputs.clientId};Authorization=AAD'
  // shared/common/settings.py
  EXPORTS_CONTAINER: names.exportsContainer
  REPORTS_CONTAINER: names.reportsContainer
  CHUNK_QUEUE: names.chunkQueue
  LEDGER_TABLE: names.ledgerTable
  CONNECTORS: string(connectors)
  ENTRA_TENANT_ID: entraTenantId
  ENTRA_CLIENT_ID: entraClientId
  // Empty: taken from CLOUD (facts.md hosts); set through settingOverrides to pin a URL.
  ENTRA_AUTHORITY_HOST: ''
  ENTRA_SECRET_NAME: names.secretName
  KEY_VAULT_URL: keyVault.outputs.uri
  KEY_VAULT_VERIFY_CHALLENGE_RESOURCE: 'true'
  INGESTION_URL: ''
  INGESTION_SCOPE: 'https://microsoft.onmicrosoft.com/86dfdabb-5089-4a0c-880a-cfa5a790c5b1/.default'
  UPLOAD_CONNECT_TIMEOUT_SECONDS: '10'
  UPLOAD_READ_TIMEOUT_SECONDS: '400'
  REPORT_SCHEDULE: '0 0 6 * * *'
  // issue 4: validation
  QUARANTINE_CONTAINER: names.quarantineContainer
  SKIP_DUPLICATE_CONTENT: 'true'
  // issue 5: upload stage
  CLOUD: cloud
  MANAGED_IDENTITY_CLIENT_ID: identity.outputs.clientId
  UPLOAD_ATTEMPTS_PER_INVOCATION: '4'
  UPLOAD_BACKOFF_SECONDS: '2'
  UPLOAD_BACKOFF_MAX_SECONDS: '60'
  UPLOAD_RETRY_BUDGET_SECONDS: '240'
  JOB_MAX_CONCURRENT_UPLOADS: '8'
  UPLOAD_SLOT_WAIT_SECONDS: '30'
  EXPORT_RETENTION: exportRetention
  ENTRA_CERTIFICATE_NAME: ''
  // issue 6: status report and telemetry (the Python worker exports with OpenTelemetry)
  REPORT_STALE_HOURS: '26'
  LEDGER_RETENTION_DAYS: '400'
  COVERAGE_DAYS: '7'
  COVERAGE_CONTAINER: names.coverageContainer
  COVERAGE_KEY_SECRET_NAME: names.coverageKeyName
  HR_REFRESH_WARN_DAYS: string(hrRefreshWarnDays)
  HR_REFRESH_FAIL_DAYS: string(hrRefreshFailDays)
  // issue 15: the Azure SDK's per-request INFO logs would each be a billed trace row
  AZURE_SDK_LOG_LEVEL: 'WARNING'
  PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY: 'true'
  // issue 14: the Python worker's thread pool runs the sync functions. host.json hands one
  // instance up to batchSize + newBatchThreshold = 24 queue messages at once; 8 more threads
  // keep a long blob scan, the timer and the HTTP report from taking an upload's thread.
  // Unset, it is min(32, cores + 4): 5-6 on a small instance, which caps uploads there.
  PYTHON_THREADPOOL_THREAD_COUNT: '32'
}, settingOverrides)

module functionApp 'modules/function-app.bicep' = {
  name: 'function-app'
  params: {
    planName: names.plan
    appName: names.functionApp
    location: location
    tags: tags
    identityId: identity.outputs.id
    hostStorageBlobEndpoint: hostStorage.outputs.blobEndpoint
    deploymentContainer: names.deploymentContainer
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    appSettings: appSettings
    privateNetworking: privateNetworking
    appSubnetId: privateNetworking ? network.outputs.appSubnetId : ''
    operatorAllowedIpRanges: operatorAllowedIpRanges
    workspaceId: monitoring.outputs.workspaceId
  }
  // The identity must hold its storage roles before the host first starts.
  dependsOn: [
    roles
  ]
}

module eventGrid 'modules/event-grid.bicep' = {
  name: 'event-grid'
  params: {
    name: names.systemTopic
    location: location
    tags: tags
    storageAccountId: exportsStorage.outputs.id
  }
}

module alerts 'modules/alerts.bicep' = {
  name: 'alerts'
  params: {
    baseName: baseName
    actionGroupName: names.actionGroup
    location: location
    tags: tags
    appInsightsId: monitoring.outputs.appInsightsId
    alertEmail: alertEmail
    staleExportHours: staleExportHours
    hrRefreshWarnDays: hrRefreshWarnDays
    hrRefreshFailDays: hrRefreshFailDays
  }
}

module workbook 'modules/workbook.bicep' = {
  name: 'workbook'
  params: {
    location: location
    tags: tags
    appInsightsId: monitoring.outputs.appInsightsId
    displayName: 'EHR audit-log ingestion (${baseName})'
  }
}

// ---------------------------------------------------------------- outputs (no secrets)
output functionAppName string = functionApp.outputs.name
output functionAppHostName string = functionApp.outputs.defaultHostName
output exportsStorageAccount string = exportsStorage.outputs.name
output exportsContainer string = names.exportsContainer
output systemTopicName string = eventGrid.outputs.name
output keyVaultName string = keyVault.outputs.name
output keyVaultSecretName string = names.secretName
output coverageKeyName string = names.coverageKeyName
output appInsightsName string = monitoring.outputs.appInsightsName
output identityClientId string = identity.outputs.clientId
