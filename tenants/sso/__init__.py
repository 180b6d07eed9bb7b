"""Single sign-on to the dashboard through an organization's OpenID Connect provider.

`client` talks to the provider (Authlib: discovery, PKCE, state, nonce, ID-token validation
against the provider's JWKS); `provisioning` turns validated claims into an MLMeta user (find or
create, teams from groups, pending invitations); `views` glue them to /sso/<org-slug>/...
"""
