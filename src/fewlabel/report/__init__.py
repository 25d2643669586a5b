"""Pictures and pages: matplotlib figures (one function per figure) and static HTML reports."""
