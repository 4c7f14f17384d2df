// Alert rules on Application Insights, all to one action group (email): poison messages,
// failed runs, stale exports, ageing employee profiles, function errors. Log-query alerts,
// because Storage's own queue metrics are hourly and account-wide. The queries read what the
// OpenTelemetry pipeline writes: the app's log records as traces (customDimensions from
// `extra`), its custom events (RunStarted, FileRejected, ChunkPoisoned, ProfileFreshness) as
// customEvents, and the Functions host's own "Executed ... (Failed" trace for failed invocations.
param baseName string
param actionGroupName string
param location string
param tags object
param appInsightsId string
param alertEmail string
param staleExportHours int
param hrRefreshWarnDays int
param hrRefreshFailDays int

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

// Employee profiles (hr connectors) not uploaded for {days} days. A log alert looks back two
// days at most, so the rule cannot see a 15-day silence itself: the daily report, which reads
// the ledger, emits one ProfileFreshness event per hr connector with the days since its last
// successful upload, and the rule reads the latest of each. No event at all within two days
// means the report itself stopped, which the function-errors rule covers.
var freshnessQueryTemplate = '''
customEvents
| where name == "ProfileFreshness"
| summarize arg_max(timestamp, customDimensions) by connector = tostring(customDimensions.connector)
| extend days = todouble(customDimensions.days_since_upload)
| where isnull(days) or days >= {days}
'''
var profilesAgeingQuery = replace(freshnessQueryTemplate, '{days}', string(hrRefreshWarnDays))
var profilesExpiringQuery = replace(freshnessQueryTemplate, '{days}', string(hrRefreshFailDays))

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
    name: 'hr-profiles-ageing'
    description: 'An HR connector has had no successful upload of employee profiles for ${hrRefreshWarnDays} days. Purview deletes profiles not refreshed within 30 days: drop a fresh HR export.'
    severity: 2
    query: profilesAgeingQuery
    operator: 'GreaterThan'
    threshold: 0
    frequency: 'PT6H'
    window: 'P2D'
  }
  {
    name: 'hr-profiles-expiring'
    description: 'An HR connector has had no successful upload of employee profiles for ${hrRefreshFailDays} days: Purview deletes profiles after 30 days, and the healthcare policy then matches no employee address. Upload employee profiles now.'
    severity: 1
    query: profilesExpiringQuery
    operator: 'GreaterThan'
    threshold: 0
    frequency: 'PT6H'
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
