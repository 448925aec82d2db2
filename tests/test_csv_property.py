"""The CSV importer on random files: it applies the valid rows and gives a reason for each other one, or
refuses the file in one line; a refused file never changes the database."""
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from core import access, csv_io, csv_templates, store
from tests.test_csv import practice  # noqa: F401 -- the fixture: the small practice of test_csv.py

PAT = access.Actor("Pat", None, access.Role.EDITOR)
KNOWN = ["Acme Ltd", "acme", "=Beta Co", "Twin Ltd", "Café Münster", "Alice", "bob smith", "Ann", "Bob", "Carl",
         "Tax", "Audit", "Advisory", "-Other", "BK", "ALIGN", "TAX", "yes", "No", "maybe", "", "None",
         "alice@example.com", "Zoë Brønte", "Renée"]
TABLES = ["client_settings", "services", "team_members", "change_log", "line_rules", "data_version"]

cells = st.one_of(
    st.just(""), st.just(""), st.sampled_from(KNOWN), st.sampled_from(KNOWN), st.sampled_from(KNOWN),
    st.text(max_size=12),                                               # any Unicode, control characters included
    st.text(alphabet=st.sampled_from(',;"\'\n\r\t =+-@\u202e\u2066\x07'), max_size=6),  # separators, quotes, bidi
    st.integers(100, 20_000).map(lambda n: "H" * n),                  # huge cells
)
VALID = {"Client Name": ["Acme Ltd", "Café Münster", "Twin Ltd"], "Xero Contact ID": ["acme", "cafe", ""],
         "Client Owner": ["Alice", "bob smith", ""], "Xero Tracking Category 1": ["Ann", "bob", ""],
         "Xero Tracking Category 2": ["Tax", "Audit", ""], "Tracking Category 2": ["Tax", "-Other", ""],
         "Consolidate Lines": ["yes", "No"], "Alignment Fee": ["Yes", "no"], "Item Code": ["BK", "ALIGN", "tax"],
         "Team Member": ["Zoë Brønte", "Alice", "New Person"], "Email": ["", "z@example.com"]}
ANY_COLUMN = [*{c for t in csv_templates.TEMPLATES.values() for c in t}, "Notes", "client name", " TEAM MEMBER "]


@st.composite
def files(draw) -> tuple[str, bytes]:
    """A template and a spreadsheet's CSV for it (mostly its own columns, sometimes any, twice or none), or
    random bytes, in one of the encodings spreadsheets write, or a mix of them."""
    template = draw(st.sampled_from(list(csv_templates.TEMPLATES)))
    if draw(st.integers(0, 9)) == 0:
        return template, draw(st.binary(max_size=300))
    separator, quote_all = draw(st.sampled_from([",", ";"])), draw(st.booleans())
    own = list(csv_templates.TEMPLATES[template])
    header = draw(st.one_of(st.permutations(own), st.permutations(own).map(lambda columns: columns[:2]),
                            st.lists(st.sampled_from(ANY_COLUMN), min_size=1, max_size=6)))
    fitting = st.tuples(*(st.one_of(*[st.sampled_from(VALID.get(column, [""]))] * 4, cells)
                          for column in header)).map(list)
    rows = draw(st.lists(st.one_of(fitting, fitting, fitting, st.lists(cells, max_size=8)), min_size=1, max_size=8))

    def line(values) -> str:
        return separator.join(f'"{v.replace(chr(34), chr(34) * 2)}"' if quote_all or separator in v or '"' in v
                              or "\n" in v else v for v in values)

    lines = [line(header), *map(line, rows)]
    one = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]))
    encodings = draw(st.just([one] * len(lines)) | st.just([one] * len(lines)) | st.lists(st.sampled_from(["utf-8", "cp1252"]),
                                                           min_size=len(lines), max_size=len(lines)))
    return template, b"\n".join(text.encode(encoding, errors="replace") for text, encoding in zip(lines, encodings))


def tables(con) -> dict:
    return {table: sorted(con.execute(f"SELECT * FROM {table}").fetchall(), key=repr) for table in TABLES}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow, HealthCheck.data_too_large])
@given(file=files(), dry_run=st.booleans())
def test_a_random_file_is_applied_row_by_row_or_refused_whole(practice, file, dry_run):
    template, data = file
    before, version = tables(practice), store.data_version(practice)
    try:
        result = csv_io.import_csv(template, data, file_name="random.csv", by=PAT, dry_run=dry_run)
    except csv_io.CsvError as refused:
        event("refused")
        assert "\n" not in str(refused) and len(str(refused)) < 1_000
        assert tables(practice) == before
        return
    rows_changed, rows_rejected = {c.row for c in result.changes}, {r.row for r in result.rejections}
    event(f"{'some' if rows_changed else 'no'} rows changed, {'some' if rows_rejected else 'no'} rejected")
    assert not rows_changed & rows_rejected
    assert all(r.row >= csv_io.FIRST_DATA_ROW and "\n" not in r.message and len(r.message) < 1_000
               for r in result.rejections)
    assert all(len(c.new or "") <= 255 and len(c.name) <= 255 for c in result.changes)
    if dry_run or not result.changes:
        assert tables(practice) == before
    else:
        assert store.data_version(practice) == version + 1
        logged = practice.execute("SELECT count(*) FROM change_log WHERE change_id > ?",
                                  [max((row[0] for row in before["change_log"]), default=0)]).fetchone()[0]
        assert logged == len(result.changes)
