"""The command line's import (`injuryledger import KIND FILE`): a file posted in chunks is one
import with the file's own row numbers; an Excel workbook is read as the same rows; on the
distributed runtime the command itself runs against the gateway."""
from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pytest
from openpyxl import Workbook
from rich.console import Console
from typer.testing import CliRunner

from injuryledger.imports_cli import app, cell_text, import_file
from tests.conftest import AGENCY_TOKEN

pytestmark = pytest.mark.both_runtimes
EMPLOYERS = ("legacy_id", "uscc", "name", "industry_code", "region", "enrolled_on", "floating_step")


def quiet() -> Console:
    return Console(file=io.StringIO())


def write_csv(path: Path, rows: list[tuple]) -> Path:
    path.write_text("\n".join(",".join(str(v) for v in r) for r in [EMPLOYERS, *rows]) + "\n", encoding="utf-8")
    return path


def test_a_file_in_chunks_is_one_import_with_the_files_row_numbers(api, unique, tmp_path) -> None:  # noqa: ANN001
    tag, region = f"CLI{unique.n}", unique.region
    rows = [(f"{tag}-{i}", unique.uscc(), f"Firm {i}", "C3311", region, "2016-01-01", "") for i in range(5)]
    rows[3] = (*rows[3][:1], "91" + "0" * 16, *rows[3][2:])  # row 5 of the file: a bad USCC
    path = write_csv(tmp_path / "employers.csv", rows)

    dry = import_file(api, "employers", path, dry_run=True, chunk_rows=2, console=quiet())
    assert (dry["dry_run"], dry["rows"], dry["accepted"], dry["rejected"]) == (True, 5, 4, 1)
    assert api.get("/v1/employers", params={"region": region}).json()["items"] == []

    summary = import_file(api, "employers", path, chunk_rows=2, console=quiet())
    assert (summary["rows"], summary["accepted"], summary["rejected"]) == (5, 4, 1)
    assert [(e["row"], e["field"]) for e in summary["errors"]] == [(5, "uscc")]
    assert summary["totals"] == {"employers": 4}
    assert api.get(f"/v1/imports/{summary['import_id']}").json()["rows"] == 5  # three chunks, one import
    assert len(api.get("/v1/employers", params={"region": region}).json()["items"]) == 4


def test_an_excel_workbook_is_read_as_the_same_rows(api, unique, tmp_path) -> None:  # noqa: ANN001
    tag, region = f"XL{unique.n}", unique.region
    book = Workbook()
    sheet = book.active
    sheet.append(list(EMPLOYERS))
    sheet.append([f"{tag}-1", unique.uscc(), "Excel Firm", "C3311", int(region), date(2016, 1, 1), 1.2])
    sheet.append([f"{tag}-2", unique.uscc(), "Excel Firm 2", "I6510", int(region), date(2016, 1, 1), None])
    path = tmp_path / "employers.xlsx"
    book.save(path)
    summary = import_file(api, "employers", path, console=quiet())
    assert (summary["accepted"], summary["rejected"]) == (2, 0), summary["errors"]
    assert {e["name"] for e in api.get("/v1/employers", params={"region": region}).json()["items"]} == \
        {"Excel Firm", "Excel Firm 2"}


def test_the_command_against_the_gateway(api, unique, tmp_path, runtime_kind) -> None:  # noqa: ANN001
    if runtime_kind != "distributed":
        pytest.skip("the command needs a URL: the gateway of the distributed runtime")
    tag, region = f"CMD{unique.n}", unique.region
    path = write_csv(tmp_path / "employers.csv", [
        (f"{tag}-1", unique.uscc(), "Command Firm", "C3311", region, "2016-01-01", ""),
        (f"{tag}-2", "not-a-uscc", "Bad Firm", "C3311", region, "2016-01-01", "")])
    result = CliRunner().invoke(app, ["import", "employers", str(path), "--url", str(api.base_url),
                                      "--token", AGENCY_TOKEN, "--chunk-rows", "1"])
    assert result.exit_code == 1, result.output  # a row was rejected
    assert "accepted" in result.output and "uscc" in result.output
    assert [e["name"] for e in api.get("/v1/employers", params={"region": region}).json()["items"]] == ["Command Firm"]


def test_workbook_cells_become_the_csv_text_of_their_column() -> None:
    assert cell_text("period", date(2026, 3, 1)) == "2026-03"
    assert cell_text("enrolled_on", date(2026, 3, 1)) == "2026-03-01"
    assert cell_text("wage", 9000.5) == "9000.5"
    assert cell_text("grade", 3.0) == "3"
    assert cell_text("one_off_paid", True) == "true"
    assert cell_text("name", None) == ""
