"""Every .bicep parses with pycep-parser 0.5.1, the parser inside checkov: a file it cannot
parse is silently skipped by checkov (zero checks, exit code 0), so this comes first."""

from __future__ import annotations

import json
import re

import pytest

from tests.infra.bicep import module_params, only, resources
from tests.infra.conftest import INFRA, bicep_files, parse


@pytest.mark.parametrize("path", bicep_files(), ids=lambda p: p.relative_to(INFRA).as_posix())
def test_parses_with_checkovs_parser(path):
    parsed = parse(path)
    assert parsed.get("resources") or parsed.get("modules"), f"{path.name} declares nothing"


def test_one_module_per_concern_all_wired(main):
    """Every module file is used by main.bicep, and every module main uses exists."""
    used = {m["detail"]["path"] for m in main["modules"].values()}
    on_disk = {p.relative_to(INFRA).as_posix() for p in (INFRA / "modules").glob("*.bicep")}
    assert used == on_disk


def test_module_parameters_match(main, templates):
    """What the Bicep CLI would reject: a module given an unknown parameter, or not given
    a required one (no default)."""
    for symbol, module in main["modules"].items():
        declared = templates[module["detail"]["path"]]["parameters"]
        given = set(module_params(module))
        assert given <= set(declared), f"{symbol}: unknown params {given - set(declared)}"
        required = {name for name, p in declared.items() if p["default"] is None}
        assert required <= given, f"{symbol}: missing params {required - given}"


def test_module_outputs_exist(main, templates):
    text = (INFRA / "main.bicep").read_text()
    for symbol, output in re.findall(r"\b(\w+)\.outputs\.(\w+)", text):
        module = main["modules"][symbol]
        assert output in templates[module["detail"]["path"]]["outputs"], f"{symbol}.outputs.{output}"


# azd's substitution in main.parameters.json: ${NAME} or ${NAME=default}.
AZD_VALUE = re.compile(r"^\$\{([A-Z_][A-Z0-9_]*)(?:=([^}]*))?\}$")


def test_parameters_file_matches_main(main):
    """main.parameters.json is azd's: a value from the azd environment is one ``${NAME}`` or
    ``${NAME=default}``, a default (or a literal) is one the parameter allows, and every
    required parameter is given."""
    params = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    declared = main["parameters"]
    assert set(params) <= set(declared), set(params) - set(declared)
    required = {name for name, p in declared.items() if p["default"] is None}
    assert required <= set(params), required - set(params)
    for name, entry in params.items():
        value = entry["value"]
        if isinstance(value, str) and "${" in value:
            m = AZD_VALUE.match(value)
            assert m, f"{name}: not one azd environment value: {value!r}"
            value = m.group(2)
        allowed = [d["argument"] for d in declared[name]["decorators"] if d["type"] == "allowed"]
        if allowed and value is not None:
            assert str(value) in [str(a) for a in allowed[0]] or str(value).lower() in ("true", "false"), name
    assert params["baseName"]["value"] == "${AZURE_ENV_NAME}"
    assert params["location"]["value"] == "${AZURE_LOCATION}"


def test_connectors_file_is_the_default(main):
    """Both paths (azd and the az CLI) read the connectors from infra/connectors.json."""
    default = main["parameters"]["connectors"]["default"]["function"]
    assert default["type"] == "load_json_content"
    assert (INFRA / default["parameters"]["file_path"]).is_file()


def test_workbook_and_queries_present(templates):
    workbook = only(templates["modules/workbook.bicep"], "Microsoft.Insights/workbooks")
    load = workbook["properties"]["serializedData"]["function"]
    assert load["type"] == "load_text_content"
    data = json.loads((INFRA / "modules" / load["parameters"]["file_path"]).resolve().read_text())
    assert data["version"].startswith("Notebook/")
    kql = sorted((INFRA / "queries").glob("*.kql"))
    assert kql and all(q.read_text().strip() for q in kql)


def test_no_secret_ever_in_a_template(templates):
    """The Entra app secret is set by the operator in Key Vault: no secret resource, no
    @secure() parameter carrying one in, no listKeys/listSecrets anywhere."""
    for name, template in templates.items():
        assert not resources(template, "Microsoft.KeyVault/vaults/secrets"), name
        for pname, param in (template.get("parameters") or {}).items():
            assert all(d["type"] != "secure" for d in param["decorators"]), f"{name}: @secure {pname}"
    for path in bicep_files():
        text = path.read_text()
        assert not re.search(r"\blist(Keys|Secrets|AccountSas|ServiceSas)\s*\(", text), path.name
        assert "AccountKey=" not in text, path.name
