from __future__ import annotations

import pytest

from tests.accounts.phone.fake_gateway import FakeSMSGateway


@pytest.fixture
def sms_gateway(settings):
    """The HTTP SMS backend pointed at a fake gateway on loopback."""
    with FakeSMSGateway() as gateway:
        settings.SMS_URL = gateway.url
        settings.SMS_TOKEN = "gateway-token"
        settings.SMS_BACKEND = ""
        yield gateway


@pytest.fixture(autouse=True)
def eager_tasks():
    """Run the SMS task in-process (with REDIS_URL set the suite has no worker here)."""
    from idp.celery import app

    saved = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager = app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved
