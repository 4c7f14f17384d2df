// Optional private networking (main.bicep privateNetworking = true): a VNet with a subnet
// for the app's outbound VNet integration (delegated to Microsoft.App/environments, as Flex
// Consumption requires) and a subnet for private endpoints of both storage accounts (blob,
// queue, table) and Key Vault, each registered in its private DNS zone.
//
// Outbound: the app's subnet has no default outbound access (private subnets are Azure's
// default for new VNets, and it is set here explicitly), so a NAT gateway with one static
// public IP carries what has no private endpoint: Entra ID (tokens), the Purview ingestion
// API and Application Insights ingestion. Storage and Key Vault go through their private
// endpoints. The static address is the one to give a partner's allow-list.
param name string
param location string
param tags object
param addressPrefix string
param appSubnetPrefix string
param privateEndpointSubnetPrefix string
param exportsStorageId string
param hostStorageId string
param keyVaultId string

var storageSuffix = environment().suffixes.storage
var vaultZone = replace(environment().suffixes.keyvaultDns, '.vault.', 'privatelink.vaultcore.')

var zones = [
  'privatelink.blob.${storageSuffix}'
  'privatelink.queue.${storageSuffix}'
  'privatelink.table.${storageSuffix}'
  vaultZone
]

// zone: index into zones.
var endpoints = [
  {
    name: 'exports-blob'
    target: exportsStorageId
    groupId: 'blob'
    zone: 0
  }
  {
    name: 'exports-queue'
    target: exportsStorageId
    groupId: 'queue'
    zone: 1
  }
  {
    name: 'exports-table'
    target: exportsStorageId
    groupId: 'table'
    zone: 2
  }
  {
    name: 'host-blob'
    target: hostStorageId
    groupId: 'blob'
    zone: 0
  }
  {
    name: 'host-queue'
    target: hostStorageId
    groupId: 'queue'
    zone: 1
  }
  {
    name: 'host-table'
    target: hostStorageId
    groupId: 'table'
    zone: 2
  }
  {
    name: 'vault'
    target: keyVaultId
    groupId: 'vault'
    zone: 3
  }
]

resource nsg 'Microsoft.Network/networkSecurityGroups@2023-11-01' = {
  name: 'nsg-${name}'
  location: location
  tags: tags
  properties: {
    securityRules: []
  }
}

resource natIp 'Microsoft.Network/publicIPAddresses@2023-11-01' = {
  name: 'pip-${name}-nat'
  location: location
  tags: tags
  sku: {
    name: 'Standard'
  }
  properties: {
    publicIPAllocationMethod: 'Static'
    publicIPAddressVersion: 'IPv4'
  }
}

resource nat 'Microsoft.Network/natGateways@2023-11-01' = {
  name: 'nat-${name}'
  location: location
  tags: tags
  sku: {
    name: 'Standard'
  }
  properties: {
    idleTimeoutInMinutes: 10
    publicIpAddresses: [
      {
        id: natIp.id
      }
    ]
  }
}

resource vnet 'Microsoft.Network/virtualNetworks@2023-11-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    addressSpace: {
      addressPrefixes: [
        addressPrefix
      ]
    }
    subnets: [
      {
        name: 'app'
        properties: {
          addressPrefix: appSubnetPrefix
          defaultOutboundAccess: false
          natGateway: {
            id: nat.id
          }
          networkSecurityGroup: {
            id: nsg.id
          }
          delegations: [
            {
              name: 'flex'
              properties: {
                serviceName: 'Microsoft.App/environments'
              }
            }
          ]
        }
      }
      {
        name: 'private-endpoints'
        properties: {
          addressPrefix: privateEndpointSubnetPrefix
          defaultOutboundAccess: false
          networkSecurityGroup: {
            id: nsg.id
          }
          privateEndpointNetworkPolicies: 'Enabled'
        }
      }
    ]
  }
}

resource dnsZones 'Microsoft.Network/privateDnsZones@2020-06-01' = [for zone in zones: {
  name: zone
  location: 'global'
  tags: tags
}]

resource dnsLinks 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2020-06-01' = [for (zone, i) in zones: {
  parent: dnsZones[i]
  name: name
  location: 'global'
  tags: tags
  properties: {
    registrationEnabled: false
    virtualNetwork: {
      id: vnet.id
    }
  }
}]

resource privateEndpoints 'Microsoft.Network/privateEndpoints@2023-11-01' = [for ep in endpoints: {
  name: 'pe-${name}-${ep.name}'
  location: location
  tags: tags
  properties: {
    subnet: {
      id: vnet.properties.subnets[1].id
    }
    privateLinkServiceConnections: [
      {
        name: ep.name
        properties: {
          privateLinkServiceId: ep.target
          groupIds: [
            ep.groupId
          ]
        }
      }
    ]
  }
}]

resource dnsGroups 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2023-11-01' = [for (ep, i) in endpoints: {
  parent: privateEndpoints[i]
  name: 'default'
  properties: {
    privateDnsZoneConfigs: [
      {
        name: ep.groupId
        properties: {
          privateDnsZoneId: dnsZones[ep.zone].id
        }
      }
    ]
  }
}]

output vnetId string = vnet.id
output appSubnetId string = vnet.properties.subnets[0].id
output outboundIp string = natIp.properties.ipAddress
