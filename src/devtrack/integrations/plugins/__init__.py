"""The built-in plugins, one module each. Modules import only the contract at import time."""
