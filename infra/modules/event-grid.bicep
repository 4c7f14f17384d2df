// The Event Grid system topic of the exports account. The subscription that feeds the blob
// trigger needs the app's blobs_extension key, which exists only after the code is
// published: scripts/post-deploy.sh creates it.
param name string
param location string
param tags object
param storageAccountId string

resource topic 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
  name: name
  location: location
  tags: tags
  properties: {
    source: storageAccountId
    topicType: 'Microsoft.Storage.StorageAccounts'
  }
}

output id string = topic.id
output name string = topic.name
