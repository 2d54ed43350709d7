"""Hand-written hostile payloads: (name, topic suffix or full topic, payload bytes, expected reasons).

``NOW`` placeholders: payload templates use ``{now}`` (receive time, epoch ms) and ``{old}``/``{fut}``.
Topics starting with ``/`` are relative to ``ecm/v1/e03``; the good meter is e03_elec_main (energy_kwh).
"""
from __future__ import annotations

E = "e03"
M = "e03_elec_main"
R = f"ecm/v1/{E}/{M}/reading"


def _t(rel: str) -> str:
    return f"ecm/v1/{E}{rel}" if rel.startswith("/") else rel


#: (name, topic, payload template, expected reasons of the rejected readings, n good readings)
CORPUS: list[tuple[str, str, bytes, list[str], int]] = [
    ("empty", R, b"", ["json_invalid"], 0),
    ("whitespace", R, b"   \n\t", ["json_invalid"], 0),
    ("not_json", R, b"hello", ["json_invalid"], 0),
    ("truncated_json", R, b'{"ts": {now}, "values": {"energy_kwh": 1', ["json_invalid"], 0),
    ("invalid_utf8", R, b'{"ts": {now}, "values": {"energy_kwh": 1}, "x": "\xff\xfe"}', ["json_invalid"], 0),
    ("utf16_bom", R, b'\xff\xfe{\x00}\x00', ["json_invalid"], 0),
    ("json_null", R, b"null", ["shape_invalid"], 0),
    ("json_number", R, b"42", ["shape_invalid"], 0),
    ("json_string", R, b'"online"', ["shape_invalid"], 0),
    ("json_list", R, b"[1, 2, 3]", ["shape_invalid"], 0),
    ("empty_object", R, b"{}", ["ts_missing"], 0),
    ("ts_null", R, b'{"ts": null, "values": {"energy_kwh": 1}}', ["ts_missing"], 0),
    ("ts_float", R, b'{"ts": {now}.5, "values": {"energy_kwh": 1}}', ["ts_invalid"], 0),
    ("ts_bool", R, b'{"ts": true, "values": {"energy_kwh": 1}}', ["ts_invalid"], 0),
    ("ts_no_offset", R, b'{"ts": "2024-03-01T08:15:00", "values": {"energy_kwh": 1}}', ["ts_invalid"], 0),
    ("ts_garbage_string", R, b'{"ts": "yesterday", "values": {"energy_kwh": 1}}', ["ts_invalid"], 0),
    ("ts_object", R, b'{"ts": {"ms": 1}, "values": {"energy_kwh": 1}}', ["ts_invalid"], 0),
    ("ts_huge_int", R, b'{"ts": 99999999999999999999999, "values": {"energy_kwh": 1}}', ["ts_invalid"], 0),
    ("ts_negative", R, b'{"ts": -1, "values": {"energy_kwh": 1}}', ["ts_too_old"], 0),
    ("ts_too_old", R, b'{"ts": {old}, "values": {"energy_kwh": 1}}', ["ts_too_old"], 0),
    ("ts_future", R, b'{"ts": {fut}, "values": {"energy_kwh": 1}}', ["ts_future"], 0),
    ("ts_seconds_not_ms", R, b'{"ts": 1709251200, "values": {"energy_kwh": 1}}', ["ts_too_old"], 0),
    ("values_missing", R, b'{"ts": {now}}', ["values_invalid"], 0),
    ("values_list", R, b'{"ts": {now}, "values": [1]}', ["values_invalid"], 0),
    ("values_empty", R, b'{"ts": {now}, "values": {}}', ["values_invalid"], 0),
    ("wrong_quantity", R, b'{"ts": {now}, "values": {"gas_m3": 1}}', ["quantity_mismatch"], 0),
    ("wrong_unit", R, b'{"ts": {now}, "values": {"energy_mwh": 1}}', ["quantity_mismatch"], 0),
    ("extra_quantity", R, b'{"ts": {now}, "values": {"energy_kwh": 1, "power_kw": 2}}', ["quantity_mismatch"], 0),
    ("value_string", R, b'{"ts": {now}, "values": {"energy_kwh": "1.5"}}', ["value_not_number"], 0),
    ("value_bool", R, b'{"ts": {now}, "values": {"energy_kwh": true}}', ["value_not_number"], 0),
    ("value_null", R, b'{"ts": {now}, "values": {"energy_kwh": null}}', ["value_not_number"], 0),
    ("value_nan", R, b'{"ts": {now}, "values": {"energy_kwh": NaN}}', ["value_not_finite"], 0),
    ("value_inf", R, b'{"ts": {now}, "values": {"energy_kwh": Infinity}}', ["value_not_finite"], 0),
    ("value_neg_inf", R, b'{"ts": {now}, "values": {"energy_kwh": -Infinity}}', ["value_not_finite"], 0),
    ("value_overflow_float", R, b'{"ts": {now}, "values": {"energy_kwh": 1e400}}', ["value_not_finite"], 0),
    ("value_1e15", R, b'{"ts": {now}, "values": {"energy_kwh": 1e15}}', ["value_not_finite"], 0),
    ("value_bigint", R, b'{"ts": {now}, "values": {"energy_kwh": 123456789012345678901234567890}}', ["value_not_finite"], 0),
    ("value_object", R, b'{"ts": {now}, "values": {"energy_kwh": {"v": 1}}}', ["value_not_number"], 0),
    ("seq_string", R, b'{"ts": {now}, "values": {"energy_kwh": 1}, "seq": "7"}', ["seq_invalid"], 0),
    ("seq_negative", R, b'{"ts": {now}, "values": {"energy_kwh": 1}, "seq": -7}', ["seq_invalid"], 0),
    ("seq_float", R, b'{"ts": {now}, "values": {"energy_kwh": 1}, "seq": 7.5}', ["seq_invalid"], 0),
    ("unknown_meter", f"ecm/v1/{E}/nosuchmeter/reading", b'{"ts": {now}, "values": {"energy_kwh": 1}}', ["unknown_meter"], 0),
    ("foreign_meter", f"ecm/v1/{E}/e04_elec_main/reading", b'{"ts": {now}, "values": {"energy_kwh": 1}}', ["meter_not_owned"], 0),
    ("unknown_kind", f"ecm/v1/{E}/{M}/readings", b'{"ts": {now}, "values": {"energy_kwh": 1}}', ["topic_invalid"], 0),
    ("deep_topic", f"ecm/v1/{E}/{M}/reading/extra", b'{"ts": {now}, "values": {"energy_kwh": 1}}', ["topic_invalid"], 0),
    ("short_topic", f"ecm/v1/{E}/reading", b'{"ts": {now}, "values": {"energy_kwh": 1}}', ["topic_invalid"], 0),
    ("stats_bad_kind", f"ecm/v1/{E}/stats/weekly", b'{"month": "2024-03"}', ["topic_invalid"], 0),
    ("batch_not_list", R, b'{"readings": {"ts": 1}}', ["shape_invalid"], 0),
    ("batch_items_mixed", R, b'{"readings": [{"ts": {now}, "values": {"energy_kwh": 5}}, 7, null, '
     b'{"ts": {now1}, "values": {"energy_kwh": "x"}}, {"ts": {now2}, "values": {"energy_kwh": 6}}]}',
     ["shape_invalid", "shape_invalid", "value_not_number"], 2),
    ("batch_too_large", R, b'{"readings": [' + b",".join([b"{}"] * 10_001) + b"]}", ["batch_too_large"], 0),
    ("gateway_no_meter", f"ecm/v1/{E}/gateway/reading", b'{"readings": [{"ts": {now}, "values": {"energy_kwh": 1}}]}',
     ["meter_missing"], 0),
    ("gateway_meter_int", f"ecm/v1/{E}/gateway/reading", b'{"readings": [{"meter": 5, "ts": {now}, "values": {"energy_kwh": 1}}]}',
     ["meter_missing"], 0),
    ("gateway_foreign_meter", f"ecm/v1/{E}/gateway/reading",
     b'{"readings": [{"meter": "e01_elec_main", "ts": {now}, "values": {"energy_kwh": 1}}, '
     b'{"meter": "' + M.encode() + b'", "ts": {now3}, "values": {"energy_kwh": 9}}]}', ["meter_not_owned"], 1),
    ("gateway_unknown_meter", f"ecm/v1/{E}/gateway/reading",
     b'{"readings": [{"meter": "zz_top", "ts": {now}, "values": {"energy_kwh": 1}}]}', ["unknown_meter"], 0),
    ("status_garbage", f"ecm/v1/{E}/{M}/status", b"maybe", ["status_invalid"], 0),
    ("status_state_int", f"ecm/v1/{E}/{M}/status", b'{"state": 1}', ["status_invalid"], 0),
    ("stats_bad_month", f"ecm/v1/{E}/stats/monthly", b'{"month": "2024-13", "output_value_10k_cny": 1, '
     b'"value_added_10k_cny": 1, "deflator_index": 1}', ["stats_invalid"], 0),
    ("stats_string_value", f"ecm/v1/{E}/stats/monthly", b'{"month": "2024-03", "output_value_10k_cny": "1", '
     b'"value_added_current_10k_cny": 1, "deflator_index": 1}', ["stats_invalid"], 0),
    ("stats_negative", f"ecm/v1/{E}/stats/monthly", b'{"month": "2024-03", "output_value_10k_cny": -1, '
     b'"value_added_current_10k_cny": 1, "deflator_index": 1}', ["stats_invalid"], 0),
    ("stats_deflator", f"ecm/v1/{E}/stats/monthly", b'{"month": "2024-03", "output_value_10k_cny": 1, '
     b'"value_added_current_10k_cny": 1, "deflator_index": 9}', ["stats_invalid"], 0),
    ("stats_alias_conflict", f"ecm/v1/{E}/stats/monthly", b'{"month": "2024-03", "output_value_10k_cny": 1, '
     b'"value_added_current_10k_cny": 2, "value_added_10k_cny": 1, "deflator_index": 1}', ["stats_invalid"], 0),
    ("deep_nesting", R, b"[" * 100_000 + b"]" * 100_000, ["json_invalid"], 0),
    ("too_large", R, b'{"ts": {now}, "values": {"energy_kwh": 1}, "pad": "' + b"x" * (256 * 1024) + b'"}',
     ["payload_too_large"], 0),
    ("line_protocol_injection", R, b'{"ts": {now}, "values": {"energy_kwh": 1}, "seq": 1}\nreadings,meter=x v=1',
     ["json_invalid"], 0),
    ("sql_in_quantity", R, b'{"ts": {now}, "values": {"energy_kwh\\" OR 1=1": 1}}', ["quantity_mismatch"], 0),
    ("duplicate_keys_last_bad", R, b'{"ts": {now}, "values": {"energy_kwh": 1}, "values": {"energy_kwh": "a"}}',
     ["json_duplicate_key"], 0),
    ("duplicate_keys_nested", R, b'{"ts": {now}, "values": {"energy_kwh": 1, "energy_kwh": 2}}', ["json_duplicate_key"], 0),
    ("status_lone_surrogate", f"ecm/v1/{E}/gateway/status", b'{"state":"\\ud800"}', ["text_invalid"], 0),
    ("batch_meter_lone_surrogate", f"ecm/v1/{E}/gateway/reading",
     b'{"readings": [{"meter": "\\udc00x", "ts": {now}, "values": {"energy_kwh": 1}}]}', ["text_invalid"], 0),
    ("empty_batch", R, b'{"readings": []}', ["batch_empty"], 0),
    ("negative_counter", R, b'{"ts": {now}, "values": {"energy_kwh": -0.5}}', ["value_negative"], 0),
    ("good_single", R, b'{"ts": {now4}, "values": {"energy_kwh": 10.5}, "seq": 1}', [], 1),
    ("good_iso", R, b'{"ts": "{iso}", "values": {"energy_kwh": 11}}', [], 1),
]


def render(payload: bytes, now_ms: int) -> bytes:
    """Fill the {now}, {nowK}, {old}, {fut}, {iso} placeholders relative to ``now_ms``."""
    from datetime import datetime, timedelta, timezone

    iso = (datetime.fromtimestamp(now_ms / 1000, timezone(timedelta(hours=8))) - timedelta(seconds=5)).isoformat(
        timespec="milliseconds")
    subs = {b"{now}": b"%d" % (now_ms - 60_000), b"{old}": b"%d" % (now_ms - 8 * 86400_000),
            b"{fut}": b"%d" % (now_ms + 600_000), b"{iso}": iso.encode()}
    for k in range(1, 5):
        subs[b"{now%d}" % k] = b"%d" % (now_ms - 60_000 + k)
    for k, v in subs.items():
        payload = payload.replace(k, v)
    return payload
