"""The plugin's light metadata, for ``devtrack integrations list``: plain data, no imports.

DevTrack lists plugins without importing them (their pydantic models cost more than the
command's whole start-up); it finds this under the ``devtrack.integrations.meta`` entry point.
``tests/test_meta.py`` checks it equals what the plugin class itself declares.
"""

META = {
    "id": "netlify",
    "name": "Netlify",
    "description": "Sites and deploys, with health from each site's latest production deploy.",
    "docs_url": "https://open-api.netlify.com/",
    "fields": (
        {"key": "token", "label": "Personal access token", "kind": "token", "secret": True, "required": True,
         "help": "User settings → Applications → Personal access tokens.", "placeholder": "nfp_…",
         "choices": [], "masked": True, "destination": False, "carries": []},
        {"key": "site_id", "label": "Site ID", "kind": "project_id", "secret": False, "required": False,
         "help": "Site configuration → Site information → Site ID; blank to follow every site.",
         "placeholder": "", "choices": [], "masked": False, "destination": False, "carries": []},
    ),
    "custom_configured": False,
}
