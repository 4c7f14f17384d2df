// The function app's identity: user-assigned, so that its role assignments exist before the
// app's host first starts (no window of failed storage calls), it can be granted on the
// deployment container before the first publish, and it survives re-creating the app.
param name string
param location string
param tags object

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output principalId string = identity.properties.principalId
output clientId string = identity.properties.clientId
