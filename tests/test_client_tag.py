"""The client's side of tag: shots judged on our screen, then marked with the server's verdict."""
from __future__ import annotations

from game import client_tag, sim, tag
from game.client_tag import ShotBook
from game.render_sounds import SOUND_NAMES
from game.sim import Player, World
from game.tag import Round, Tag

UP = 48


def test_a_shot_is_judged_on_what_the_last_frame_drew_then_marked_with_the_verdict() -> None:
    book = ShotBook()
    drawn = {1: (640.0, 500.0), 2: (900.0, 500.0)}
    book.on_fire(10, (640.0, 600.0), UP, drawn, {1, 2}, now=1.0)  # 1 is straight above: a hit on screen
    book.on_fire(11, (900.0, 600.0), UP, drawn, {1}, now=1.1)  # 2 is above, but not taggable: a miss
    book.on_fire(12, (640.0, 600.0), 0, drawn, {1, 2}, now=1.2)  # aimed right, at nobody
    assert [b.state for b in book.beams(1.2)] == ["hit", "miss", "miss"]
    assert book.beams(1.2)[0].target_px == (640.0, 500.0)
    assert book.on_verdict(10, 1) is None  # confirmed: no sound of disappointment
    assert book.on_verdict(11, -1) is None
    assert book.on_verdict(12, 2) is None  # the server saw a hit we did not
    assert book.on_verdict(10, 1) is None  # a repeated verdict counts once
    assert [b.state for b in book.beams(1.3)] == ["confirmed", "miss", "confirmed"]
    assert book.figures() == {"tags_fired": 3, "tags_hit_on_screen": 1, "tags_confirmed": 1, "tags_rejected": 0,
                              "tags_hit_off_screen": 1, "tags_unanswered": 0}


def test_a_rejected_hit_and_a_shot_never_answered() -> None:
    book = ShotBook()
    book.on_fire(5, (640.0, 600.0), UP, {1: (640.0, 500.0)}, {1}, now=0.0)
    book.on_fire(6, (640.0, 600.0), UP, {1: (640.0, 500.0)}, {1}, now=0.1)
    assert book.on_verdict(5, -1) == "miss"
    assert book.beams(0.2)[0].state == "rejected"
    book.expire(now=5.0)
    assert book.shots == {} and book.figures()["tags_rejected"] == 1 and book.figures()["tags_unanswered"] == 1


def test_the_book_is_bounded() -> None:
    book = ShotBook()
    for seq in range(client_tag.MAX_SHOTS_KEPT * 3):
        book.on_fire(seq, (640.0, 600.0), UP, {}, set(), now=0.0)
    assert len(book.shots) == client_tag.MAX_SHOTS_KEPT


def test_event_words_and_their_sounds() -> None:
    names = {1: "ada", 2: "bob"}
    assert client_tag.event_words(["tag", 1, 2, "beam"], names, me=2) == ("Ada tagged you with the beam", "tagged")
    assert client_tag.event_words(["tag", 2, 1, "touch"], names, me=2) == ("You tagged ada", "tag")
    assert client_tag.event_words(["pickup", 2, tag.SHIELD], names, me=2) == ("You took a shield", "pickup")
    assert client_tag.event_words(["pickup", 1, tag.SHIELD], names, me=2) == (None, None)  # not ours: no noise
    assert client_tag.event_words(["round_over", 3, 1, 4], names, me=2) == ("Ada won round 3 with 4 points", "round_end")
    assert client_tag.event_words(["round_start", 4], names, me=2) == ("Round 4: go!", "round_start")
    assert client_tag.event_words(["confetti"], names, me=2) == (None, None)
    for event in (["tag", 1, 2, "beam"], ["pickup", 2, 1], ["round_over", 1, 1, 1], ["round_start", 2]):
        assert client_tag.event_words(event, names, me=2)[1] in SOUND_NAMES


def test_round_words_and_scoreboard_come_from_the_state() -> None:
    phys = sim.Physics.for_tick_rate(60)
    players = (Player(0, 0, 0, tag=Tag(it=True, score=-1)), Player(1, 0, 0, tag=Tag(score=2, wins=1)))
    playing = World(tick=60 * 18, players=players)
    line, banner = client_tag.round_words(playing, phys, {0: "ada", 1: "bob"}, me=0)
    assert line == "Round 1  0:42  -  you are IT" and banner == ""
    over = World(tick=60 * 62, players=players, round=Round(0, 1))
    line, banner = client_tag.round_words(over, phys, {0: "ada", 1: "bob"}, me=0)
    assert banner == "bob wins round 1!  Next round in 3 s"
    rows = client_tag.scoreboard(playing, {0: "ada", 1: "bob"}, me=0)
    assert [(r.name, r.score, r.it, r.is_local) for r in rows] == [("bob", 2, False, False), ("ada", -1, True, True)]
