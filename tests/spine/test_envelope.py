from __future__ import annotations

import json
import uuid
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from pydantic import ValidationError

from libs.events.decode import DecodedOnce, EventId, Poison, StoredEnvelope, decode_batch, validate_all
from libs.events.envelope import Envelope, new_event_id, new_event_id_and_text, new_event_ids, new_event_ids_and_texts
from libs.events.log import FROM_STORE, Record
from libs.events.registry import REGISTRY, UnknownEventType
from libs.events.store import dumps

from .support import Deposited


def envelope(**over) -> Envelope:  # noqa: ANN003
    base = dict(
        event_id=uuid.uuid4(), type="SpineDeposited", schema_version=2, aggregate_type="spine_account",
        aggregate_id="a-1", sequence=1, occurred_on=date(2026, 3, 31),
        recorded_at=datetime(2026, 4, 1, 8, 0, tzinfo=timezone.utc), actor="tester",
        payload=Deposited(amount=Decimal("8123.40"), memo="m").model_dump(mode="json"),
    )
    return Envelope(**{**base, **over})


def test_decimal_amounts_survive_a_json_round_trip_exactly() -> None:
    original = envelope()
    again = Envelope.from_json(original.to_json())
    assert again == original
    assert again.payload["amount"] == "8123.40"  # the trailing zero is kept: a string, never a binary fraction
    assert REGISTRY.payload(again).amount == Decimal("8123.40")


def test_envelopes_are_frozen() -> None:
    with pytest.raises(ValidationError):
        envelope().sequence = 2  # type: ignore[misc]


def test_sequence_starts_at_one() -> None:
    with pytest.raises(ValidationError):
        envelope(sequence=0)


def test_an_old_version_is_upcast_on_read_and_never_rewritten() -> None:
    old = envelope(schema_version=1, payload={"amount": "10.00"})
    upcast = REGISTRY.upcast(old)
    assert upcast.schema_version == 2 and upcast.payload["memo"].startswith("(none")
    assert old.schema_version == 1 and "memo" not in old.payload
    assert REGISTRY.payload(old).amount == Decimal("10.00")


def test_an_unknown_type_is_refused_by_name() -> None:
    with pytest.raises(UnknownEventType, match="NoSuchEvent"):
        REGISTRY.payload(envelope(type="NoSuchEvent"))


def test_event_ids_are_version_7_and_sort_in_the_order_they_were_made() -> None:
    made = [new_event_id() for _ in range(10_000)]  # many within one millisecond: the counter orders them
    assert all(i.version == 7 and i.variant == uuid.RFC_4122 for i in made)
    assert [str(i) for i in made] == sorted(str(i) for i in made) and len(set(made)) == len(made)
    assert all(uuid.UUID(str(i)) == i for i in made[:100])  # the same UUIDs as any other


def test_event_ids_made_in_one_go_are_those_one_by_one_would_be() -> None:
    before, batch, after = new_event_id(), new_event_ids(5_000), new_event_id()
    made = [before, *batch, after]
    assert all(i.version == 7 and i.variant == uuid.RFC_4122 for i in made)
    assert [str(i) for i in made] == sorted(str(i) for i in made) and len(set(made)) == len(made)


def test_an_event_id_made_with_its_text_is_written_as_str_writes_it() -> None:
    """The append writes the text `new_event_id_and_text` formats from the id's parts: the same
    text as UUID.__str__, for ids one by one and in one go, in the order they were made."""
    pairs = [new_event_id_and_text() for _ in range(2_000)] + new_event_ids_and_texts(3_000)
    assert all(text == str(i) and i.version == 7 and i.variant == uuid.RFC_4122 for i, text in pairs)
    assert [text for _i, text in pairs] == sorted(text for _i, text in pairs)
    assert len({i for i, _text in pairs}) == len(pairs)


def test_a_batch_decodes_as_record_by_record_and_a_bad_record_is_named_poison() -> None:
    good = [envelope(event_id=new_event_id(), sequence=n) for n in range(1, 4)]
    records = [Record("t", b"k", e.to_json(), offset=n) for n, e in enumerate(good)]
    assert validate_all(records) == good
    two_in_one = Record("t", b"k", good[0].to_json() + b"," + good[1].to_json(), offset=3)
    for bad in (Record("t", b"k", b"not json", offset=3), two_in_one,
                Record("t", b"k", good[0].to_json().replace(b'"sequence":1', b'"sequence":0'), offset=3)):
        with pytest.raises(Poison):
            validate_all([*records, bad])


def test_stored_payload_text_is_the_json_modules_compact_text() -> None:
    payload = {"amount": "8123.40", "memo": "工伤 \u2028 \"q\" \\ </script>", "lines": [1, None, True, {"n": -3}],
               "rate_per_mille": 12, "empty": {}}
    assert dumps(payload) == json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def test_the_relays_records_decode_lazily_as_the_validated_envelopes() -> None:
    """Records the relay marks as the store's decode without validating again (lazily), and read
    as the validated envelopes: every field, its type, the id's text, equality, JSON, upcast."""
    old = envelope(event_id=new_event_id(), schema_version=1, payload={"amount": "10.00"},
                   causation_id=new_event_id(), correlation_id="c-1")
    good = [envelope(event_id=new_event_id(), sequence=n) for n in range(1, 4)] + [old]
    marked = [Record("t", b"k", e.to_json(), (("type", b"SpineDeposited"), FROM_STORE), offset=n)
              for n, e in enumerate(good)]
    lazy, ids = decode_batch(marked)
    assert all(isinstance(e, StoredEnvelope) for e in lazy)
    assert ids == [str(e.event_id) for e in good] and [str(e.event_id) for e in lazy] == ids
    for read, want in zip(lazy, good):
        for name in Envelope.model_fields:
            assert getattr(read, name) == getattr(want, name) and type(getattr(read, name)) in (
                type(getattr(want, name)), EventId), name
        assert read == want and want == read and read.to_json() == want.to_json()
        assert read.model_dump() == want.model_dump() and hash(read.event_id) == hash(want.event_id)
    assert REGISTRY.upcast(lazy[-1]) == REGISTRY.upcast(old) and REGISTRY.payload(lazy[-1]).memo.startswith("(none")
    with pytest.raises(TypeError):
        lazy[0].sequence = 2  # type: ignore[misc]


def test_records_not_marked_or_not_the_relays_shape_are_validated_in_full() -> None:
    good = [envelope(event_id=new_event_id(), sequence=n) for n in range(1, 3)]
    plain = [Record("t", b"k", e.to_json(), offset=n) for n, e in enumerate(good)]
    envelopes, ids = decode_batch(plain)  # no mark: validated
    assert envelopes == good and all(type(e) is Envelope for e in envelopes) and ids == [str(e.event_id) for e in good]
    marked = [r._replace(headers=(FROM_STORE,)) for r in plain]
    fields = json.loads(good[0].to_json())
    missing = json.dumps({k: v for k, v in fields.items() if k != "actor"}).encode()
    too_many = json.dumps({**fields, "extra": 1}).encode()
    for bad in (b"not json", b"[1]", b'"a string"', good[0].to_json().replace(b'"actor"', b'"acter"'),
                missing, too_many):
        with pytest.raises(Poison):  # marked, but not the relay's JSON: validated, and named
            decode_batch([*marked, Record("t", b"k", bad, (FROM_STORE,), offset=9)])
    # The relay's shape is the store's: its values are not checked again (the store did).
    zero = good[0].to_json().replace(b'"sequence":1', b'"sequence":0')
    assert isinstance(decode_batch([Record("t", b"k", zero, (FROM_STORE,))])[0][0], StoredEnvelope)
    with pytest.raises(Poison):
        decode_batch([Record("t", b"k", zero)])


def test_records_decoded_once_for_every_consumer_are_the_envelopes_each_would_decode() -> None:
    """DecodedOnce (the embedded runtime's consumers): a record read again, alone or in another
    batch, is the envelope decoded the first time; a batch decodes as decode_batch would; a bad
    record is still named Poison; forgotten, records are decoded afresh."""
    good = [envelope(event_id=new_event_id(), sequence=n) for n in range(1, 5)]
    records = [Record("t", b"k", e.to_json(), (("type", b"SpineDeposited"), FROM_STORE), offset=n)
               for n, e in enumerate(good)]
    once = DecodedOnce()
    first, ids = once(records[:2])
    assert first == good[:2] and ids == [str(e.event_id) for e in good[:2]]
    again, again_ids = once(records[1:])  # one known, two new
    assert again[0] is first[1] and again == good[1:] and again_ids == [str(e.event_id) for e in good[1:]]
    other_topic = records[0]._replace(topic="u", value=good[3].to_json())  # another place in the log
    assert once([other_topic])[0] == [good[3]]
    with pytest.raises(Poison):
        once([*records, Record("t", b"k", b"not json", offset=9)])
    assert once(records)[0] == good  # the bad batch left nothing of its own behind
    once.forget()
    assert once(records[:1])[0][0] is not first[0] and once(records[:1])[0] == good[:1]
    small = DecodedOnce(max_records=2)
    assert small(records)[0] == good and small(records[:1])[0] == good[:1]  # past its bound: all forgotten, still right
