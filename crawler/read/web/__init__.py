"""``crawler serve``: the reviewer's desk, a read-only web view of an archive.

``app`` (the aiohttp application, security middleware, token), ``routes``
(URL -> view -> template), ``views`` (what each page shows, read through the
read model), ``render`` (Jinja2 with autoescaping, and the filters that keep
archived text inert), ``templates/`` and ``static/`` (one stylesheet, no script).
"""
