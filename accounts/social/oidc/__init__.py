"""allauth's OpenID Connect provider with the checks we require of every upstream.

allauth swaps this package's provider in for its own (``SOCIALACCOUNT_PROVIDERS
["openid_connect"]["provider_class"]``, set in ``accounts/social/conf.py``) and mounts this
package's ``urls.py`` in place of its own, under the same URL names.
"""
