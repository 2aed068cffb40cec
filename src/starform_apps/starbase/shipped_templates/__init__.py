"""The templates Starbase ships, as YAML package data (see ``starform_apps.starbase.template_files``)."""
