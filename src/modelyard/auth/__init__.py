"""Who is calling: AWS Signature Version 4 verification, access keys and accounts, action policies.

    request -> sigv4.parse (header or query-string auth) -> keys.KeyRing.lookup(access key)
            -> sigv4.verify (canonical request, scope, skew, payload hash, constant-time compare)
            -> policy.allows(action) -> wire.auth.Principal(account, region, ...)

``authenticator.SigV4Authenticator`` is the one ``wire.auth.Authenticator`` the pipeline uses when
auth is on; ``secrets`` holds the data dir's server secret and the encryption of stored secrets.
"""
