"""An example third-party DevTrack integration: Netlify sites and their deploys."""
