// The operator's workbook (infra/workbook.json, its KQL kept under infra/queries/) on the
// Application Insights resource.
param location string
param tags object
param appInsightsId string
param displayName string

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: guid(appInsightsId, 'ehr-ingest-workbook')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: displayName
    category: 'workbook'
    sourceId: appInsightsId
    serializedData: loadTextContent('../workbook.json')
  }
}

output id string = workbook.id
