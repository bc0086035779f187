"""Short sound cues, synthesized at start-up with numpy and played through pygame's mixer.

Theory of operation
-------------------
Why synthesize: a game cue only has to be short and recognisable, and a few lines of numpy make
one: a sine (or a few harmonics of one) at a pitch that moves or steps, shaped by an envelope.
So there are no asset files to ship, license or load, and every cue is a deterministic function
of its name and the sample rate. ``synthesize`` is that function. It uses numpy only, so the
waveforms can be tested (duration, peak, pitch, clean ends) with no audio device and no pygame.

The cues, and the idea each carries:

* ``tag`` (120 ms): you tagged someone. A bright zap: a falling glide from 2.4 kHz to 1.4 kHz
  with two overtones.
* ``tagged`` (200 ms): you were tagged. A lower, buzzy sawtooth (eight harmonics) sliding down
  from 330 Hz to 110 Hz. Low and falling reads as "bad news".
* ``pickup`` (150 ms): a rising two-note chime, B5 then E6, each with a faint octave.
* ``round_start`` / ``round_end`` (400 ms): a three-note fanfare, C5 E5 G5 up (major) or G4 Eb4
  C4 down (minor), with brassy harmonics. The last note is held longest.
* ``miss`` (40 ms): a soft click, a damped sine falling from 900 Hz to 300 Hz, quieter than
  the rest.

The envelope: a tone switched on or off at full level jumps from silence to a non-zero sample,
and that step is heard as a click. So every note is multiplied by an envelope: a raised-cosine
attack of a few milliseconds from exactly 0, an exponential decay (what makes a tone sound
struck rather than held) and a raised-cosine release that ends at exactly 0. Notes of a melody
each get their own envelope, so the joins between them are silent too. Glides integrate the
frequency into the phase (``phase = 2 pi cumsum(f) / rate``), so the pitch moves without a jump
in the waveform. Each cue is then scaled to a moderate peak (0.3 to 0.5 of full scale): loud
enough to hear over a call, quiet enough not to clip when several cues overlap in the mixer.
Overtones above 0.45 of the sample rate are left out, so nothing folds back (aliases) at a low
mixer rate.

The mixer decides the format. ``Sounds.create`` opens the mixer if nobody has (with a small
buffer, so a cue is heard within about 12 ms of the event), then reads back what the device
actually gave (``pygame.mixer.get_init()``: rate, sample size, channels; SDL may change the rate
and the channel count to suit the hardware). ``to_mixer_array`` converts each waveform to
exactly that: unsigned or signed 8 or 16 bit integers or 32-bit floats, a 1-D array for mono and
one column per channel otherwise. ``pygame.sndarray.make_sound`` does not rescale (a float array
given to a 16-bit mixer becomes silence), so this conversion is ours to get right.

Never raise without an audio device: sound is decoration, the game is the point. A machine with
no sound card, a remote session, CI or ``SDL_AUDIODRIVER=dummy`` must still play. So when the
mixer cannot be opened (``pygame.error``), pygame was built without a mixer, or the device asks
for a format we cannot make, ``create`` returns a *silent* ``Sounds`` whose ``play`` does
nothing, and says why in ``reason``. ``play`` also checks that the mixer is still open: in
pygame-ce 2.5, ``Sound.play()`` after ``pygame.quit()`` crashes the process (a segfault, not an
exception). Muting (``mute=True``, ``toggle_mute``) still loads the sounds, so a player who
starts muted can unmute live. An unknown cue name does raise ``KeyError``, muted or not: that
is a typo in the caller, not a missing device, and it should fail in a test, not go quiet.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

SOUND_NAMES = ("tag", "tagged", "pickup", "round_start", "round_end", "miss", "join", "leave")
MIN_SAMPLE_RATE = 8000
BUFFER_SAMPLES = 512  # mixer buffer: 512 samples is about 12 ms at 44.1 kHz, so cues feel instant
MAX_OVERTONE_SHARE = 0.45  # leave out overtones above this share of the sample rate (no aliasing)


@dataclass(frozen=True)
class _Shape:
    """One note's envelope: raised-cosine attack, exponential decay, raised-cosine release."""
    attack_s: float
    decay_per_s: float  # the level falls as exp(-decay_per_s * t) after the attack
    release_s: float


def _envelope(n: int, rate: int, shape: _Shape) -> np.ndarray:
    t = np.arange(n) / rate
    env = np.exp(-shape.decay_per_s * t)
    attack = min(n // 2, max(1, round(shape.attack_s * rate)))
    release = min(n - attack, max(1, round(shape.release_s * rate)))
    # 0.5 - 0.5 cos rises from exactly 0 with zero slope: no step, no kink.
    env[:attack] *= 0.5 - 0.5 * np.cos(np.pi * np.arange(attack) / attack)
    env[n - release:] *= (0.5 - 0.5 * np.cos(np.pi * np.arange(release) / release))[::-1]
    return env


def _tone(freq_hz: np.ndarray, rate: int, harmonics: tuple[tuple[int, float], ...]) -> np.ndarray:
    """A tone whose (possibly moving) fundamental is ``freq_hz`` per sample, phase-continuous."""
    phase = 2 * np.pi * np.concatenate(([0.0], np.cumsum(freq_hz[:-1]))) / rate
    top_hz = float(np.max(freq_hz))
    wave = np.zeros(len(freq_hz))
    for k, amplitude in harmonics:
        if k * top_hz < MAX_OVERTONE_SHARE * rate:
            wave += amplitude * np.sin(k * phase)
    return wave


def _glide(start_hz: float, end_hz: float, n: int) -> np.ndarray:
    """An exponential pitch glide: equal musical steps per unit of time."""
    return start_hz * (end_hz / start_hz) ** (np.arange(n) / max(1, n - 1))


def _melody(notes_hz: tuple[float, ...], shares: tuple[float, ...], n: int, rate: int,
            harmonics: tuple[tuple[int, float], ...], shape: _Shape) -> np.ndarray:
    """Notes back to back, each with its own envelope; ``shares`` split the ``n`` samples."""
    bounds = np.round(np.cumsum((0.0,) + shares) / sum(shares) * n).astype(int)
    parts = []
    for hz, start, stop in zip(notes_hz, bounds[:-1], bounds[1:]):
        m = stop - start
        parts.append(_tone(np.full(m, hz), rate, harmonics) * _envelope(m, rate, shape))
    return np.concatenate(parts)


BRIGHT = ((1, 1.0), (2, 0.35), (3, 0.2))
SAW = tuple((k, 1.0 / k) for k in range(1, 9))  # band-limited sawtooth: a buzz
CHIME = ((1, 1.0), (2, 0.2))
BRASS = ((1, 1.0), (2, 0.5), (3, 0.3), (4, 0.15))


def _tag(n: int, rate: int) -> np.ndarray:
    return _tone(_glide(2400.0, 1400.0, n), rate, BRIGHT) * _envelope(n, rate, _Shape(0.003, 12.0, 0.02))


def _tagged(n: int, rate: int) -> np.ndarray:
    return _tone(_glide(330.0, 110.0, n), rate, SAW) * _envelope(n, rate, _Shape(0.005, 4.0, 0.03))


def _pickup(n: int, rate: int) -> np.ndarray:
    return _melody((987.77, 1318.51), (1, 1), n, rate, CHIME, _Shape(0.003, 10.0, 0.015))


def _round_start(n: int, rate: int) -> np.ndarray:
    return _melody((523.25, 659.26, 783.99), (1, 1, 2), n, rate, BRASS, _Shape(0.006, 3.0, 0.03))


def _round_end(n: int, rate: int) -> np.ndarray:
    return _melody((392.00, 311.13, 261.63), (1, 1, 2), n, rate, BRASS, _Shape(0.006, 3.0, 0.03))


def _join(n: int, rate: int) -> np.ndarray:
    return _melody((587.33, 880.00), (1, 2), n, rate, ((1, 1.0), (3, 0.1)), _Shape(0.004, 6.0, 0.02))


def _leave(n: int, rate: int) -> np.ndarray:
    return _melody((880.00, 587.33), (1, 2), n, rate, ((1, 1.0), (3, 0.1)), _Shape(0.004, 6.0, 0.02))


def _miss(n: int, rate: int) -> np.ndarray:
    return _tone(_glide(900.0, 300.0, n), rate, ((1, 1.0),)) * _envelope(n, rate, _Shape(0.002, 40.0, 0.012))


#: name -> (duration in seconds, peak level, waveform maker)
_SPECS: dict[str, tuple[float, float, Callable[[int, int], np.ndarray]]] = {
    "tag": (0.12, 0.5, _tag),
    "tagged": (0.20, 0.5, _tagged),
    "pickup": (0.15, 0.45, _pickup),
    "round_start": (0.40, 0.5, _round_start),
    "round_end": (0.40, 0.5, _round_end),
    "miss": (0.04, 0.3, _miss),
    "join": (0.18, 0.35, _join),  # someone else joined
    "leave": (0.18, 0.35, _leave),  # someone else left
}
DURATION_S = {name: spec[0] for name, spec in _SPECS.items()}


def synthesize(name: str, sample_rate: int) -> np.ndarray:
    """The mono waveform of cue ``name`` at ``sample_rate``: float32 in [-1, 1], starting and
    ending at 0. Pure and deterministic (numpy only). ``KeyError`` for an unknown name."""
    if name not in _SPECS:
        raise KeyError(f"unknown sound {name!r}; known: {', '.join(SOUND_NAMES)}")
    if sample_rate < MIN_SAMPLE_RATE:
        raise ValueError(f"sample rate {sample_rate} Hz is below {MIN_SAMPLE_RATE} Hz")
    duration_s, peak, make = _SPECS[name]
    wave = make(round(duration_s * sample_rate), sample_rate)
    wave *= peak / np.max(np.abs(wave))
    return wave.astype(np.float32)


def to_mixer_array(wave: np.ndarray, size: int, channels: int) -> np.ndarray:
    """``wave`` (float in [-1, 1]) in the mixer's format, as ``pygame.mixer.get_init()`` reports it.

    ``size`` is the sample size in bits, negative for signed: 8 and 16 are unsigned (silence is
    the mid value), -8 and -16 signed, 32 or -32 float. Mono is 1-D, more channels one column each
    (the same signal in every column). ``ValueError`` for a format we cannot make.
    """
    clipped = np.clip(np.asarray(wave, dtype=np.float64), -1.0, 1.0)
    if abs(size) == 32:
        samples = clipped.astype(np.float32)
    elif size in (8, 16):
        top = 2 ** (size - 1)
        samples = np.round(clipped * (top - 1) + top).astype(np.uint8 if size == 8 else np.uint16)
    elif size in (-8, -16):
        top = 2 ** (-size - 1) - 1
        samples = np.round(clipped * top).astype(np.int8 if size == -8 else np.int16)
    else:
        raise ValueError(f"unsupported mixer sample size {size}")
    if channels < 1:
        raise ValueError(f"unsupported channel count {channels}")
    if channels == 1:
        return np.ascontiguousarray(samples)
    return np.ascontiguousarray(np.repeat(samples[:, None], channels, axis=1))


@contextmanager
def _c_stderr_quiet():
    """Silence what C libraries write to file descriptor 2 for a moment (our own ``reason`` says
    in one line what went wrong). Python's ``sys.stderr`` is untouched."""
    try:
        saved = os.dup(2)
    except OSError:  # no descriptor 2 at all: nothing to silence
        yield
        return
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class Sounds:
    """The game's cues, ready to play. Make one with ``Sounds.create``; ``Sounds()`` is silent."""

    def __init__(self, sounds: dict[str, Any] | None = None, muted: bool = False,
                 mixer: Any = None, reason: str = "") -> None:
        self._sounds = dict(sounds or {})
        self._mixer = mixer  # pygame.mixer, to check it is still open before each play
        self._format = mixer.get_init() if mixer is not None and self._sounds else None
        self.muted = muted
        self.reason = reason  # why there is no sound, when there is none ("" otherwise)

    @classmethod
    def create(cls, mute: bool = False) -> Sounds:
        """Open the mixer if needed and synthesize every cue in its format. Never raises for a
        missing or broken audio device: the result is then silent and ``reason`` says why."""
        try:
            import pygame
            import pygame.sndarray
        except ImportError as exc:
            return cls(muted=mute, reason=f"no pygame sound support: {exc}")
        try:
            mixer = pygame.mixer
            if mixer.get_init() is None:
                with _c_stderr_quiet():  # ALSA prints a dozen lines when there is no sound card
                    mixer.init(buffer=BUFFER_SAMPLES)
            init = mixer.get_init()
            if init is None:
                return cls(muted=mute, reason="the mixer did not open")
            rate, size, channels = init
            sounds = {name: pygame.sndarray.make_sound(to_mixer_array(synthesize(name, rate), size, channels))
                      for name in SOUND_NAMES}
        except (pygame.error, NotImplementedError, ValueError) as exc:
            # NotImplementedError: pygame built without its mixer module.
            # ValueError: a device format we cannot make (or that make_sound refuses).
            return cls(muted=mute, reason=f"no audio: {exc}")
        return cls(sounds, muted=mute, mixer=mixer)

    @property
    def available(self) -> bool:
        """The cues are loaded into an open mixer (there is an audio device, maybe a dummy one)."""
        return bool(self._sounds)

    @property
    def enabled(self) -> bool:
        """``play`` would make a sound: the cues are available and not muted."""
        return self.available and not self.muted

    def toggle_mute(self) -> bool:
        """Mute or unmute (cutting off any cue still sounding); returns the new ``enabled``."""
        self.muted = not self.muted
        if self.muted and self._mixer_is_ours():
            for sound in self._sounds.values():
                sound.stop()
        return self.enabled

    def play(self, name: str) -> None:
        """Start cue ``name``; nothing when muted or silent. ``KeyError`` for an unknown name."""
        if name not in _SPECS:
            raise KeyError(f"unknown sound {name!r}; known: {', '.join(SOUND_NAMES)}")
        if self.muted or not self._sounds or not self._mixer_is_ours():
            return
        self._sounds[name].play()  # all mixer channels busy: pygame drops it, quietly

    def _mixer_is_ours(self) -> bool:
        # Sound.play() on a closed mixer crashes pygame-ce 2.5 (segfault); a mixer reopened in
        # another format would play our samples at the wrong rate or width.
        return self._mixer is not None and self._mixer.get_init() == self._format
