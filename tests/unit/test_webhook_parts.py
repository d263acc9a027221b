"""Webhook pieces without a server: target policy, event mapping and filters, backoff, secret file."""

from __future__ import annotations

import asyncio
import ipaddress
import stat

import pytest
from batchgen_ext.batchgen.config import Config
from batchgen_ext.batchgen.errors import ApiError
from batchgen_ext.batchgen.events import Event
from batchgen_ext.batchgen.webhook_delivery import DeliverySettings, backoff_delay
from batchgen_ext.batchgen.webhook_events import body, matches, message_id, webhook_type
from batchgen_ext.batchgen.webhook_secrets import SecretStore
from batchgen_ext.batchgen.webhook_targets import CheckedResolver, TargetPolicy, TargetRefused, check_target, parse_url

REFUSED = ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.0.10", "169.254.169.254", "100.64.0.1", "0.0.0.0", "224.0.0.1",
           "::1", "fe80::1", "fd00::1", "fc00::5", "::ffff:10.0.0.1", "::ffff:127.0.0.1", "255.255.255.255"]


@pytest.mark.parametrize("address", REFUSED)
def test_private_loopback_link_local_and_metadata_addresses_are_refused(address):
    assert not TargetPolicy().address_allowed(ipaddress.ip_address(address))
    assert TargetPolicy(allow_private=True).address_allowed(ipaddress.ip_address(address))


def test_public_addresses_and_allow_lists():
    assert TargetPolicy().address_allowed(ipaddress.ip_address("93.184.216.34"))
    assert TargetPolicy().address_allowed(ipaddress.ip_address("2606:4700::1111"))
    policy = TargetPolicy.parse(False, ("10.9.0.0/16", "hooks.internal"))
    assert policy.address_allowed(ipaddress.ip_address("10.9.3.4"))
    assert not policy.address_allowed(ipaddress.ip_address("10.8.3.4"))
    assert policy.hosts == ("hooks.internal",)


def test_a_name_is_refused_if_any_of_its_addresses_is_private():
    async def dns(host, port):
        return [ipaddress.ip_address("93.184.216.34"), ipaddress.ip_address("127.0.0.1")]

    with pytest.raises(TargetRefused, match="127.0.0.1"):
        asyncio.run(check_target(TargetPolicy(), "https://two.example.com/x", dns))
    allowed = asyncio.run(check_target(TargetPolicy.parse(False, ("two.example.com",)), "https://two.example.com/x", dns))
    assert len(allowed) == 2


@pytest.mark.parametrize("url", ["ftp://a.example.com/", "http://user:pw@a.example.com/", "http:///x", "http://a.example.com/#f",
                                 "http://ä.example.com/", "http://a.example.com:99999/", "javascript:alert(1)"])
def test_urls_that_are_not_plain_http_are_invalid(url):
    with pytest.raises(ApiError) as refused:
        parse_url(url)
    assert refused.value.code == "invalid_webhook_url"


def test_the_resolver_answers_only_checked_hosts():
    resolver = CheckedResolver({"a.example.com": [ipaddress.ip_address("93.184.216.34")]})
    assert asyncio.run(resolver.resolve("A.example.com", 443))[0]["host"] == "93.184.216.34"
    with pytest.raises(OSError):
        asyncio.run(resolver.resolve("b.example.com", 443))


def event(kind, status, seq=7, batch="b1"):
    return Event(seq, kind, batch, 3 if kind == "batchgen.job" else None, 1788000000.5, {"status": status})


def test_event_mapping_and_filters():
    assert webhook_type(event("batchgen.job", "succeeded")) == "job.succeeded"
    assert webhook_type(event("batchgen.job", "running")) == "job.started"
    assert webhook_type(event("batchgen.batch", "partial")) == "batch.completed"
    assert webhook_type(event("batchgen.batch", "running")) is None  # progress counts are not a webhook event
    assert webhook_type(event("batchgen.batch_deleted", None)) == "batch.deleted"
    assert matches("job.failed", ["job.*"]) and matches("batch.completed", ["*"]) and not matches("job.failed", ["batch.*"])
    e = event("batchgen.job", "failed", seq=42)
    assert message_id(e) == "evt_42"
    assert '"type":"job.failed"' in body(e, "job.failed") and '"timestamp":"2026-' in body(e, "job.failed")


def test_backoff_doubles_up_to_the_cap_with_jitter():
    settings = DeliverySettings(backoff=1.0, backoff_max=8.0)
    for failures, base in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (10, 8.0), (100, 8.0)]:
        delays = {backoff_delay(settings, failures) for _ in range(50)}
        assert all(base * 0.5 <= d <= base for d in delays) and len(delays) > 1


def test_secret_file_is_0600_and_forgets_deleted_webhooks(tmp_path):
    store = SecretStore(tmp_path / "webhook_secrets.json")
    secret = store.create("wh_1")
    assert secret.startswith("whsec_") and len(secret) > 40
    assert stat.S_IMODE((tmp_path / "webhook_secrets.json").stat().st_mode) == 0o600
    assert SecretStore(tmp_path / "webhook_secrets.json").get("wh_1") == secret  # another process reads it
    store.delete(["wh_1"])
    assert SecretStore(tmp_path / "webhook_secrets.json").get("wh_1") is None


def test_configuration_of_webhooks_and_rate_limits():
    config = Config.from_env({"BATCHGEN_WEBHOOK_ALLOW_PRIVATE": "1", "BATCHGEN_WEBHOOK_ALLOW": "10.0.0.0/8, hooks.lan, bad host!",
                              "BATCHGEN_RATE_LIMIT": "0", "BATCHGEN_WEBHOOK_BACKOFF": "-3"})
    assert config.webhook_allow_private and config.webhook_allow == ("10.0.0.0/8", "hooks.lan")
    assert config.rate_per_minute == 0 and config.webhook_backoff_seconds == 0.01
    assert any("bad host!" in p for p in config.problems) and any("BATCHGEN_WEBHOOK_BACKOFF" in p for p in config.problems)


def test_the_private_file_is_read_again_only_when_it_changed_and_a_broken_one_keeps_what_was_loaded(tmp_path, caplog):
    import os

    from batchgen_ext.batchgen.private_file import PrivateJsonFile

    path = tmp_path / "private.json"
    file = PrivateJsonFile(path, lambda data: dict(data.get("items", {})), "items")
    assert file.changed() is None  # no file yet: nothing to load
    file.save({"items": {"a": 1}})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert file.changed() is None, "this process's own write is not read back"
    other = PrivateJsonFile(path, lambda data: dict(data.get("items", {})), "items")
    assert other.changed() == {"a": 1}
    other.save({"items": {"a": 1, "b": 2}})
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))  # a distinct mtime on coarse clocks
    assert file.changed() == {"a": 1, "b": 2}
    path.write_text("{half a file", encoding="utf-8")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 2_000_000))
    assert file.changed() is None and "could not read" in caplog.text
    path.unlink()
    assert file.changed() == {}, "a deleted file means nothing is stored any more"
