import streamlit as st

from core import overview, slots, ui

ui.page("Overview")

synced = ui.cached(overview.synced)
if not synced.invoices:
    st.warning("No sales invoices synced from Xero yet. Use **Sync** in the sidebar.")
    st.stop()

invoices, lines, first, last = st.columns(4)
invoices.metric("Sales invoices", f"{synced.invoices:,}")
lines.metric("Invoice lines", f"{synced.lines:,}")
first.metric("First invoice", f"{synced.first_date:%d %b %Y}")
last.metric("Last invoice", f"{synced.last_date:%d %b %Y}")

st.subheader("Needs attention")
attention = ui.cached(overview.attention)
to_do = [
    (attention.lines_to_change, f"{attention.lines_to_change:,} lines on {attention.invoices_to_change:,} "
     "invoices would change in Xero", "pages/preview.py", "Preview them"),
    (attention.blocked_lines, f"{attention.blocked_lines:,} lines are blocked (their wanted option "
     "cannot be used)", "pages/preview.py", "See why"),
    (attention.locked_invoices_with_changes, f"{attention.locked_invoices_with_changes:,} locked invoices "
     "(paid, credited or voided) have lines the rules would change; they will not be pushed",
     "pages/preview.py", "See them"),
]
shown = False
for count, text, page_file, link in to_do:
    if count:
        shown = True
        text_column, link_column = st.columns([4, 1], vertical_alignment="center")
        text_column.markdown(text)
        with link_column:
            ui.page_link(page_file, link)
if not shown:
    st.success("Nothing needs attention: Xero already carries what the rules want.")

st.subheader("Lines per tracking option, as in Xero")
names = ui.cached(slots.names)
for column, slot in zip(st.columns(2), slots.SLOTS):
    column.markdown(f"**Tracking Category {slot}: {names[slot] or '(not set)'}**")
    column.dataframe(ui.cached(overview.lines_per_option, slot), hide_index=True, width="stretch",
                     column_config={"option": "Option", "status": "Status",
                                    "lines": st.column_config.NumberColumn("Lines", format="%d")})
