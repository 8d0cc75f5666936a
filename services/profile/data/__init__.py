"""The profile service's data layer: every SQL statement of the API, one function per operation.

One module per aggregate; each function takes a connection (a tenant transaction of
``services.profile.db`` unless it says otherwise) and returns rows or small values. Routes,
and later the console, call these; neither writes SQL. Export jobs are shared with the export
worker and live in ``services.common.exportjobs``.
"""
