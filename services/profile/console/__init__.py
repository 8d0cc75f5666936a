"""The staff console: server-rendered pages at ``/console/`` on the API's data layer."""
