#!/usr/bin/env bash
# Post-deploy step: create the Event Grid subscription that feeds the blob trigger, and the
# coverage hashes' HMAC key in Key Vault if it is not there yet.
#
# Run it after publishing the package (README: `./dev package`, then
# `az functionapp deployment source config-zip`): the subscription's webhook needs the app's
# blobs_extension system key, which exists only once the published code has started.
# Safe to run again (the subscription is created or updated in place).
#
#   infra/scripts/post-deploy.sh <resource-group> [deployment-name]
#
# deployment-name is the --name given to `az deployment group create` (README: ehr-ingest);
# the script reads the app, topic and container names from that deployment's outputs.
# As azd's postdeploy hook (azure.yaml) it finds them in the azd environment instead: azd
# stores each output of main.bicep there under the output's name (upper-cased where it cannot
# match the template's casing), and hooks see them as environment variables.
set -euo pipefail

rg=${1:?usage: post-deploy.sh <resource-group> [deployment-name]}
deployment=${2:-ehr-ingest}
function_name=${FUNCTION_NAME:-plan_export}
subscription_name=${EVENT_SUBSCRIPTION_NAME:-exports-to-plan-export}
attempts=${KEY_WAIT_ATTEMPTS:-30}
interval=${KEY_WAIT_SECONDS:-10}

command -v az >/dev/null || { echo "the Azure CLI (az) is required" >&2; exit 1; }

output() {
  local upper
  upper=$(printf '%s' "$1" | tr '[:lower:]' '[:upper:]')
  if [ -n "${!1:-}" ]; then
    printf '%s\n' "${!1}"
  elif [ -n "${!upper:-}" ]; then
    printf '%s\n' "${!upper}"
  else
    az deployment group show --resource-group "$rg" --name "$deployment" \
      --query "properties.outputs.$1.value" --output tsv
  fi
}
app=$(output functionAppName)
host=$(output functionAppHostName)
topic=$(output systemTopicName)
container=$(output exportsContainer)

echo "waiting for the blobs_extension key of $app ..."
key=""
for _ in $(seq 1 "$attempts"); do
  key=$(az functionapp keys list --resource-group "$rg" --name "$app" \
    --query "systemKeys.blobs_extension" --output tsv 2>/dev/null || true)
  [ -n "$key" ] && break
  sleep "$interval"
done
if [ -z "$key" ]; then
  echo "no blobs_extension key on $app yet: publish the package first" >&2
  echo "  ./dev package && az functionapp deployment source config-zip --resource-group $rg --name $app --src dist/ehr-audit-ingest.zip" >&2
  exit 1
fi

# The key is never printed; it is only part of the webhook URL Event Grid calls.
endpoint="https://${host}/runtime/webhooks/blobs?functionName=Host.Functions.${function_name}&code=${key}"

# One event per export: only the calls that finish writing a blob. Event Grid can deliver more
# than one BlobCreated for one upload (CreateFile then FlushWithClose on an account with a
# hierarchical namespace; repeated events in azure-sdk-for-net issue 47158), and Microsoft's
# Blob Storage event schema page names the api of each (data.api). PutBlob and PutBlockList
# end an upload through the blob endpoint (portal, Storage Explorer, az, AzCopy, the SDKs),
# FlushWithClose one through the Data Lake endpoint. CopyBlob counts: an operator who copies an
# export into the container (az storage blob copy, Storage Explorer between accounts) means it
# to be ingested, and on this account (no hierarchical namespace) Storage raises the event once
# the copy is committed, not when it starts.
blob_apis=(PutBlob PutBlockList FlushWithClose CopyBlob)

az eventgrid system-topic event-subscription create \
  --resource-group "$rg" \
  --system-topic-name "$topic" \
  --name "$subscription_name" \
  --endpoint-type webhook \
  --endpoint "$endpoint" \
  --included-event-types Microsoft.Storage.BlobCreated \
  --subject-begins-with "/blobServices/default/containers/${container}/" \
  --advanced-filter data.api StringIn "${blob_apis[@]}" \
  --event-delivery-schema EventGridSchema \
  --output none

echo "Event Grid subscription $subscription_name: BlobCreated (${blob_apis[*]}) in container $container -> $app ($function_name)"

# The HMAC key of the coverage hashes (README "Coverage"): created once, 32 random bytes,
# never printed and never replaced (a new key would make every stored hash unmatchable).
vault=$(output keyVaultName)
coverage_key=$(output coverageKeyName)
if az keyvault secret show --vault-name "$vault" --name "$coverage_key" --query id --output none 2>/dev/null; then
  echo "coverage key $coverage_key: already in $vault, kept"
else
  key_file=$(mktemp)
  trap 'rm -f "$key_file"' EXIT
  chmod 600 "$key_file"
  head -c 32 /dev/urandom | base64 | tr -d '\n' > "$key_file"
  if az keyvault secret set --vault-name "$vault" --name "$coverage_key" --file "$key_file" --output none; then
    echo "coverage key $coverage_key: created in $vault"
  else
    echo "could not create the coverage key $coverage_key in $vault (Key Vault Secrets Officer needed);" >&2
    echo "coverage stays off until it exists: run this script again with that role" >&2
  fi
fi
