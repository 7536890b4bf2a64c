"""The price table names a source and the date it was read for every number it holds."""

from __future__ import annotations

import datetime
import json

from offline.cost import PRICES_FILE, _money, load_prices

STATUSES = {"aws", "third-party", "unverified"}


def test_every_price_has_a_source_a_date_and_a_status() -> None:
    prices = load_prices()

    assert prices.region == "us-east-1"
    assert prices.currency == "USD"
    assert prices.hours_per_month == 730
    assert prices.prices
    for key, price in prices.prices.items():
        assert price.usd > 0, key
        assert price.unit, key
        assert price.description, key
        assert price.status in STATUSES, key
        assert price.source, key
        assert all(url.startswith("https://") for url in price.source), key
        datetime.date.fromisoformat(price.read_on)
        if price.status != "aws":
            # A number not read on an AWS page says where it came from instead.
            assert price.note or price.status == "unverified", key


def test_every_model_price_has_a_source_a_date_and_a_status_per_tier() -> None:
    models = load_prices().models

    assert "anthropic.claude-haiku-4-5-20251001-v1:0" in models
    for model_id, model in models.items():
        assert model.source, model_id
        assert all(url.startswith("https://") for url in model.source), model_id
        datetime.date.fromisoformat(model.read_on)
        assert model.tiers, model_id
        for tier, rates in model.tiers.items():
            assert float(rates["input_1m"]) > 0, (model_id, tier)
            assert float(rates["output_1m"]) > 0, (model_id, tier)
            assert rates["status"] in STATUSES, (model_id, tier)


def test_the_file_explains_its_statuses_and_that_it_was_not_read_live() -> None:
    about = json.loads(PRICES_FILE.read_text(encoding="utf-8"))["about"]

    for status in STATUSES:
        assert f"'{status}'" in about
    assert "not live" in about


def test_money_never_invents_or_drops_precision() -> None:
    assert _money(0.01) == "$0.01"
    assert _money(1.0) == "$1.00"
    assert _money(1.33334e-05) == "$0.0000133334"
    assert _money(1234.5) == "$1,234.50"
    assert _money(14.6, cents=True) == "$14.60"
