// Flex Consumption plan and the function app: Python 3.13, the user-assigned identity for
// everything (host storage, deployment package, exports, Key Vault, telemetry), HTTPS only,
// FTP(S) and basic publishing credentials off. App settings come in as one object.
param planName string
param appName string
param location string
param tags object
param identityId string
param hostStorageBlobEndpoint string
param deploymentContainer string
param maximumInstanceCount int
param instanceMemoryMB int
param appSettings object
param privateNetworking bool
param appSubnetId string
@description('With privateNetworking: public IP ranges (CIDR) allowed to call the app, e.g. operators reading the HTTP status report.')
param operatorAllowedIpRanges array
@description('Log Analytics workspace that receives the app\'s own logs.')
param workspaceId string

// azd (azure.yaml, service `ingest`) finds the app it deploys to by this tag.
var serviceTag = {
  'azd-service-name': 'ingest'
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225: Flex Consumption zone redundancy exists only in some regions; the work is durable in Storage (queue, ledger) and resumes on another instance, so a zone outage delays exports, it loses none
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

// With private networking the app takes inbound HTTPS from Event Grid, which delivers blob
// events to the blobs extension webhook and cannot reach a private endpoint, and from the
// operators' address ranges (the HTTP status report, function key still required).
// Everything else is denied.
var eventGrid = [
  {
    name: 'AllowEventGrid'
    action: 'Allow'
    tag: 'ServiceTag'
    ipAddress: 'AzureEventGrid'
    priority: 100
  }
]
var operatorRules = [for (range, i) in operatorAllowedIpRanges: {
  name: 'AllowOperators${i}'
  action: 'Allow'
  tag: 'Default'
  ipAddress: range
  priority: 200 + i
}]

resource app 'Microsoft.Web/sites@2024-04-01' = {
  // checkov:skip=CKV_AZURE_17: Event Grid, the one caller, cannot present a client certificate to the blobs extension webhook; the webhook needs the blobs_extension system key
  // checkov:skip=CKV_AZURE_212: Flex Consumption scales from zero on demand; pending work waits durably in Storage (Event Grid retries, queue messages), so no instance has to stay warm
  // checkov:skip=CKV_AZURE_213: a health-check probe would keep a scale-to-zero Flex Consumption app awake; its one HTTP function is the on-demand status report (function key), and failed invocations raise the function-errors alert
  // checkov:skip=CKV_AZURE_222: the blob trigger's Event Grid webhook must reach the app, and Event Grid cannot deliver to a private endpoint; with privateNetworking inbound is limited to the AzureEventGrid service tag and operatorAllowedIpRanges, and every endpoint needs a function or system key
  name: appName
  location: location
  tags: union(tags, serviceTag)
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    // Key Vault references, if an operator adds one, resolve with the same identity.
    keyVaultReferenceIdentity: identityId
    httpsOnly: true
    clientCertEnabled: false
    publicNetworkAccess: 'Enabled'
    virtualNetworkSubnetId: privateNetworking ? appSubnetId : null
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      remoteDebuggingEnabled: false
      ipSecurityRestrictions: privateNetworking ? concat(eventGrid, operatorRules) : []
      ipSecurityRestrictionsDefaultAction: privateNetworking ? 'Deny' : 'Allow'
      // The SCM (Kudu) site, which takes code deployments, gets the same rules as the main
      // site: with privateNetworking, only Event Grid and operatorAllowedIpRanges reach it, so
      // publish from an address in operatorAllowedIpRanges.
      scmIpSecurityRestrictionsUseMain: true
      scmIpSecurityRestrictionsDefaultAction: privateNetworking ? 'Deny' : 'Allow'
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${hostStorageBlobEndpoint}${deploymentContainer}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      runtime: {
        name: 'python'
        version: '3.13'
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
    }
  }
}

resource settings 'Microsoft.Web/sites/config@2024-04-01' = {
  // checkov:skip=CKV_AZURE_13: false positive: this is the app-settings resource, not a site; the app is reached only with function or system keys (Event Grid cannot use App Service authentication for the blobs webhook)
  // checkov:skip=CKV_AZURE_88: false positive: Flex Consumption apps have no Azure Files content share; the code package is in the host storage account
  // checkov:skip=CKV_AZURE_63: false positive: this is the app-settings resource; Flex Consumption has no App Service file-system HTTP logs, requests go to Application Insights
  // checkov:skip=CKV_AZURE_65: false positive: this is the app-settings resource; errors go to Application Insights
  // checkov:skip=CKV_AZURE_66: false positive: this is the app-settings resource; failed requests are traced in Application Insights
  // checkov:skip=CKV_AZURE_80: false positive: a Python app, no .NET Framework
  // checkov:skip=CKV_AZURE_222: false positive: this is the app-settings resource; public network access is set (and justified) on the site
  parent: app
  name: 'appsettings'
  properties: appSettings
}

// No FTP and no basic-auth (publishing profile) deployments: publish with Entra credentials
// (`func azure functionapp publish` and `azd deploy` both use them on Flex Consumption).
resource ftp 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: app
  name: 'ftp'
  // Resource Manager refuses this resource without a location ("The parameter location has
  // an invalid value"), although the published type omits it (bicep-types-az 1317, 1529, 1571).
  #disable-next-line BCP037
  location: location
  properties: {
    allow: false
  }
}

resource scm 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: app
  name: 'scm'
  // Resource Manager refuses this resource without a location ("The parameter location has
  // an invalid value"), although the published type omits it (bicep-types-az 1317, 1529, 1571).
  #disable-next-line BCP037
  location: location
  properties: {
    allow: false
  }
}

// The function host's and the worker's logs (FunctionAppLogs) in the workspace beside the
// storage and vault audit trails, so one query can follow an export from the upload that
// wrote it to the function that read it.
resource appLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'app-logs'
  scope: app
  properties: {
    workspaceId: workspaceId
    logs: [
      {
        category: 'FunctionAppLogs'
        enabled: true
      }
    ]
  }
}

output id string = app.id
output name string = app.name
output defaultHostName string = app.properties.defaultHostName
