"""Backups a running shop can make and a new box can be restored from: the database as one
consistent moment, the product images, the keys (kept apart) and a manifest that checks them.

A backup folder holds::

    manifest.json          what is here, with sha256 checksums, the schema version and counts
    database.sqlite3       the SQLite database (the backup API: one consistent read), or
    database.pgdump        pg_dump's custom format, taken in the snapshot the counts were read in
    media/                 the product images (files named by their content's hash)
    KEYS-KEEP-APART.env    STOREFRONT_SECRET_KEY and STOREFRONT_ENCRYPTION_KEYS (mode 0600)

The keys file opens everything else: store it apart from the rest (a password manager, another
machine); a backup whose keys are lost cannot be read by anyone, which is the point.
"""
