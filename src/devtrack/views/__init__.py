"""Native views: integration data kept in a snapshot store, refreshed by a coordinator, and
built into the dashboard, deployments, errors, code, infrastructure and AI-usage views.

Pages and ``devtrack status`` read only what is stored (or cached in memory by the running
coordinator); nothing here makes a page wait on a service. Light at import: no httpx,
FastAPI or sqlite work happens until a store is opened.
"""
