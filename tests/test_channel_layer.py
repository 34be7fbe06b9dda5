"""The in-memory channel layer does its expiry housekeeping at most once a second."""

from __future__ import annotations

from chatsite.layers import ThrottledInMemoryChannelLayer


async def test_expired_messages_are_cleaned_but_not_on_every_event():
    layer = ThrottledInMemoryChannelLayer(expiry=0)
    await layer.send("first", {"type": "x"})
    layer._clean_expired()
    assert "first" not in layer.channels  # expired, so removed

    await layer.send("second", {"type": "x"})
    layer._clean_expired()  # within the interval: nothing is walked
    assert "second" in layer.channels

    layer._cleaned_at -= layer.clean_interval
    layer._clean_expired()
    assert "second" not in layer.channels


async def test_it_still_delivers_in_order():
    layer = ThrottledInMemoryChannelLayer()
    channel = await layer.new_channel()
    await layer.group_add("g", channel)
    for number in range(5):
        await layer.group_send("g", {"type": "x", "n": number})
    assert [(await layer.receive(channel))["n"] for _ in range(5)] == [0, 1, 2, 3, 4]


async def test_a_group_send_reaches_every_member_with_its_own_copy_and_skips_a_full_one():
    layer = ThrottledInMemoryChannelLayer(capacity=1)
    members = [await layer.new_channel() for _ in range(3)]
    for channel in members:
        await layer.group_add("g", channel)
    await layer.send(members[0], {"type": "filler"})  # this member is full

    await layer.group_send("g", {"type": "x", "items": [1]})

    assert (await layer.receive(members[0]))["type"] == "filler"
    received = [await layer.receive(channel) for channel in members[1:]]
    assert received == [{"type": "x", "items": [1]}] * 2
    received[0]["items"].append(2)  # one member's copy is its own
    assert received[1]["items"] == [1]
