// Alert rules on Application Insights, all to one action group (email): poison messages,
// failed runs, stale exports, function errors. Log-query alerts, because Storage's own queue
// metrics are hourly and account-wide. The queries read what the OpenTelemetry pipeline
// writes: the app's log records as traces (customDimensions from `extra`), its custom events
// (RunStarted, FileRejected, ChunkPoisoned) as customEvents, and the Functions host's own
// "Executed ... (Failed" trace for failed invocations.
param baseName string
param actionGroupName string
param location string
param tags object
param appInsightsId string
param alertEmail string
param staleExportHours int

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: actionGroupName
  location: 'global'
  tags: tags
  properties: {
    groupShortName: take('ehr-${baseName}', 12)
    enabled: true
    emailReceivers: [
      {
        name: 'operator'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

// A chunk that exhausted its retries (moved to the poison queue).
var poisonQuery = '''
union isfuzzy=true
    (customEvents | where name == "ChunkPoisoned"),
    (traces | where message startswith "chunk upload failed" and tostring(customDimensions.final) =~ "true")
'''

// An export rejected as a whole (nothing of it uploaded).
var failedRunQuery = '''
union isfuzzy=true
    (customEvents | where name == "FileRejected"),
    (traces | where message startswith "export rejected")
'''

// Any export received within the last {hours} hours (the connectors expect one a day). The
// rule's window is two days, the longest a log alert looks back; the query narrows it.
var receivedQueryTemplate = '''
union isfuzzy=true
    (customEvents | where name == "RunStarted"),
    (traces | where message startswith "scanning export")
| where timestamp > ago({hours}h)
'''
var receivedQuery = replace(receivedQueryTemplate, '{hours}', string(staleExportHours))

// A function invocation that failed (raised). The Functions host logs every completion as
// "Executed 'Functions.<name>' (Failed, Id=..., Duration=...ms)" at Error level, in the
// Application Insights SDK mode and in OpenTelemetry mode alike: that trace is the signal.
// The host's invocation span is kept as a second source: in OpenTelemetry mode it is exported
// as a dependency of type InProc (an internal span; azure-functions-dotnet-worker issue 3513),
// in the SDK mode as a request; `requests` alone stays empty in OpenTelemetry mode.
var functionErrorQuery = '''
union isfuzzy=true
    (traces | where severityLevel >= 3 and message matches regex @"^Executed '[^']+' \(Failed"),
    (dependencies | where type == "InProc" and success == false),
    (requests | where success == false)
'''

var rules = [
  {
    name: 'poison-messages'
    description: 'A chunk exhausted its retries and was moved to the poison queue: check the chunk\'s last error in the ledger, fix the cause, then replay the run.'
    severity: 1
    query: poisonQuery
    operator: 'GreaterThan'
    threshold: 0
    frequency: 'PT5M'
    window: 'PT15M'
  }
  {
    name: 'failed-runs'
    description: 'An export was rejected: see the reason in the trace and the quarantine container.'
    severity: 2
    query: failedRunQuery
    operator: 'GreaterThan'
    threshold: 0
    frequency: 'PT15M'
    window: 'PT15M'
  }
  {
    name: 'stale-exports'
    description: 'No export arrived within the expected window: check the EHR\'s export job and the Event Grid subscription.'
    severity: 2
    query: receivedQuery
    operator: 'LessThan'
    threshold: 1
    frequency: 'PT1H'
    window: 'P2D'
  }
  {
    name: 'function-errors'
    description: 'A function invocation failed: see the exceptions in Application Insights.'
    severity: 2
    query: functionErrorQuery
    operator: 'GreaterThan'
    threshold: 0
    frequency: 'PT5M'
    window: 'PT15M'
  }
]

resource alertRules 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = [for rule in rules: {
  name: '${baseName}-${rule.name}'
  location: location
  tags: tags
  properties: {
    displayName: '${baseName}: ${rule.name}'
    description: rule.description
    severity: rule.severity
    enabled: true
    scopes: [
      appInsightsId
    ]
    evaluationFrequency: rule.frequency
    windowSize: rule.window
    criteria: {
      allOf: [
        {
          query: rule.query
          timeAggregation: 'Count'
          operator: rule.operator
          threshold: rule.threshold
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}]

output actionGroupId string = actionGroup.id
