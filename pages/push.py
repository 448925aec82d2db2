import functools

import streamlit as st

from core import connection, push, push_words, ui

ui.page("Push")

SHOWN_LINES = 2000


def run(action, *args) -> None:
    """Run a push or undo with a progress bar, which ends in the result; keep it for the next run of the page."""
    shown = st.empty()
    bar = shown.progress(0.0, text="Connecting to Xero…")

    def progress(stage: str, done: int, total: int) -> None:
        bar.progress(min(done / total, 1.0) if total else 0.0, text=f"{stage}: {done:,} of {total:,} invoices")

    try:
        st.session_state["push_result"] = action(connection.gateway(), *args, by=ui.actor(), progress=progress)
    except Exception as e:
        shown.empty()
        ui.show_error(e)
        return
    shown.empty()


def show_result(result) -> None:
    """A push's or undo's result in plain words; Xero's API calls and each invoice's result on request."""
    (st.warning if result.problems or result.outcome == push.RunOutcome.STOPPED else st.success)(result.summary())
    with st.expander("Details: each invoice, and the calls to Xero's API"):
        st.caption(result.api_detail())
        st.dataframe(result.table().rename(columns=push_words.RESULT_HEADERS), hide_index=True, width="stretch")


@st.dialog("Push to Xero?")
def confirm_push(counts: dict) -> None:
    st.write(f"This changes the tracking of **{counts['lines']:,} lines** on **{counts['invoices']:,} invoices** "
             "in Xero. Nothing else on those invoices changes, and invoices changed in Xero since the last "
             "sync are skipped.")
    if counts["irreversible_changes"]:
        st.warning(f"Undo could not reverse **{counts['irreversible_changes']:,}** of these changes: the option "
                   "the line has now is archived or deleted in Xero, and Xero takes no such option on a line.",
                   icon=":material/warning:")
        st.dataframe(ui.cached(push.irreversible, SHOWN_LINES).rename(columns=push_words.IRREVERSIBLE_HEADERS),
                     hide_index=True, width="stretch", key="push_irreversible")
    yes, no = st.columns(2)
    if yes.button("Push", type="primary", key="push_confirmed", width="stretch"):
        st.session_state.update(push_confirming=False, push_now=True)
        st.rerun()
    if no.button("Cancel", key="push_cancelled", width="stretch"):
        st.session_state["push_confirming"] = False
        st.rerun()


@st.dialog("Undo this push?")
def confirm_undo(push_id: int, retry: bool) -> None:
    st.write(f"This puts back in Xero the options that push {push_id} replaced, on the lines where Xero still "
             "has what that push left" + (": only those the last undo could not put back." if retry else "."))
    yes, no = st.columns(2)
    if yes.button("Retry the failures" if retry else "Undo", type="primary", key="undo_confirmed", width="stretch"):
        st.session_state.update(undo_confirming=None, undo_now=(push_id, retry))
        st.rerun()
    if no.button("Cancel", key="undo_cancelled", width="stretch"):
        st.session_state["undo_confirming"] = None
        st.rerun()


if (st.session_state.get("push_now") or st.session_state.get("undo_now") is not None
        or "push_result" in st.session_state):
    st.subheader("Result")
if st.session_state.pop("push_now", False):
    run(push.push)
if (undo_now := st.session_state.pop("undo_now", None)) is not None:
    push_id, retry = undo_now
    run(functools.partial(push.undo, retry=retry), push_id)

result = st.session_state.get("push_result")
if result is not None:
    show_result(result)


def plan_lines(count: int, locked: bool) -> None:
    """The lines a push sends (or the locked ones): as many rows as the figure above says."""
    st.dataframe(ui.cached(push.plan_table, SHOWN_LINES, locked).rename(columns=push_words.PLAN_HEADERS),
                 hide_index=True, width="stretch", key=f"push_plan_{'locked' if locked else 'sent'}")
    if count > SHOWN_LINES:
        st.caption(f"Showing the first {SHOWN_LINES:,} of {count:,} lines.")


st.subheader("What will change")
st.caption("Invoices go back through Xero's invoices, sales credit notes through its credit notes: every line "
           "exactly as Xero has it, with only its tracking changed. Locked ones (paid, part-paid, credited, voided "
           "invoices; paid, voided or allocated credit notes) cannot be changed through Xero's API and are never "
           "sent.")
counts = ui.cached(push.plan_counts)
columns = st.columns(4)
for column, (label, key) in zip(columns, [("Invoices and credit notes to change", "invoices"),
                                          ("Lines to change", "lines"), ("Locked ones", "locked_invoices"),
                                          ("Locked lines", "locked_lines")]):
    column.metric(label, f"{counts[key]:,}")

if counts["lines"]:
    plan_lines(counts["lines"], locked=False)
elif ui.last_sync() is None:
    st.info(push_words.NEVER_SYNCED, icon=":material/sync:")
else:
    st.info(push_words.nothing_to_push(0), icon=":material/check:")

if counts["invoices"] and st.button("Push to Xero…", type="primary", icon=":material/cloud_upload:",
                                    key="push_open"):
    st.session_state["push_confirming"] = True
if st.session_state.get("push_confirming"):
    confirm_push(counts)

if counts["locked_lines"]:
    st.subheader("Locked invoices")
    st.caption(f"{counts['locked_lines']:,} lines on {counts['locked_invoices']:,} invoices want a change that "
               "Xero's API cannot make. A push leaves them alone.")
    plan_lines(counts["locked_lines"], locked=True)
    st.markdown(f"Xero's own **Find & Recode** (Adviser role) can recode paid invoices, about "
                f"{push.FIND_AND_RECODE_RUN} lines per run, but not foreign-currency invoices. The worklist groups "
                "the locked lines that want a change into runs of at most that size.")
    st.download_button("Download the locked lines (CSV)", lambda: ui.cached(push.locked_worklist_csv),
                       file_name="locked_lines_for_find_and_recode.csv", mime="text/csv", on_click="ignore",
                       icon=":material/download:", key="push_worklist")

st.subheader("History")
pushes = ui.cached(push.history)
if not pushes:
    st.caption("No pushes yet.")
for row in pushes:
    text, button = st.columns([5, 1], vertical_alignment="center")
    text.markdown(f"**{row['title']}** · {row['started_at']:%d %b %Y %H:%M} UTC · {row['pushed_by']} · "
                  f"{row['summary']}")
    if row["can_retry"]:
        if button.button("Retry the failures", key=f"undo_retry_{row['push_id']}", icon=":material/replay:"):
            st.session_state["undo_confirming"] = (row["push_id"], True)
    elif row["can_undo"]:
        if button.button("Undo", key=f"undo_{row['push_id']}", icon=":material/undo:"):
            st.session_state["undo_confirming"] = (row["push_id"], False)
if st.session_state.get("undo_confirming") is not None and not st.session_state.get("push_confirming"):
    confirm_undo(*st.session_state["undo_confirming"])
