"""Static files: compressed, hashed, and with ES module imports rewritten to hashed names."""

from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    # Without this, a hashed chat/main.js would import the unhashed ./session.js, and a
    # browser could mix an old module with a new one after an upgrade.
    support_js_module_import_aggregation = True
