// Log Analytics and workspace-based Application Insights. Local (key) authentication is off:
// the app sends telemetry with its managed identity (Monitoring Metrics Publisher).
param logAnalyticsName string
param appInsightsName string
param location string
param tags object
param retentionDays int

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: retentionDays
    features: {
      disableLocalAuth: true
    }
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: appInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    IngestionMode: 'LogAnalytics'
    DisableLocalAuth: true
  }
}

output workspaceId string = workspace.id
output appInsightsId string = appInsights.id
output appInsightsName string = appInsights.name
// The connection string holds only the instrumentation key and endpoints; with local auth
// disabled it cannot be used to send telemetry without an Entra token.
output connectionString string = appInsights.properties.ConnectionString
