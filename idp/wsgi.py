import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "idp.settings")
django.setup(set_prefix=False)

from idp.handlers import Dispatcher  # noqa: E402 - needs the app registry

application = Dispatcher()
