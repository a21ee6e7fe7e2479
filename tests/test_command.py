"""posekit.apps.command: the one skeleton every command runs in (errors, interruption, signals)."""

from __future__ import annotations

import os
import signal

import pytest

from posekit.apps.command import (EXIT_ERROR, EXIT_INTERRUPTED, CommandError, Interrupted,
                                  SignalGate, run_command)


def test_a_command_error_is_one_line_with_its_status(capsys):
    def body():
        raise CommandError("bad\n   input  file", status=2)

    assert run_command("prog", body) == 2
    assert capsys.readouterr().err == "prog: error: bad input file\n"
    assert run_command("prog", lambda: (_ for _ in ()).throw(CommandError("x"))) == EXIT_ERROR


def test_interruptions_end_in_130_with_one_line_after_cleanup(capsys):
    cleaned = []

    def kept():
        raise Interrupted("interrupted after 3 of 9 images; their outputs are kept")

    assert run_command("prog", kept, cleanup=lambda: cleaned.append(1)) == EXIT_INTERRUPTED
    assert capsys.readouterr().err == ("prog: interrupted after 3 of 9 images; their outputs "
                                       "are kept\n")
    assert run_command("prog", lambda: (_ for _ in ()).throw(KeyboardInterrupt),
                       cleanup=lambda: cleaned.append(2)) == EXIT_INTERRUPTED
    assert capsys.readouterr().err == "prog: interrupted\n" and cleaned == [1, 2]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_sigint_and_sigterm_alike_and_the_handlers_are_restored(capsys, sig):
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    reached = []

    def body():
        os.kill(os.getpid(), sig)
        reached.append("after the signal")          # not reached: the handler raises first
        return 0

    assert run_command("prog", body) == EXIT_INTERRUPTED
    assert reached == [] and capsys.readouterr().err == "prog: interrupted\n"
    assert {s: signal.getsignal(s) for s in before} == before


def test_a_held_block_finishes_before_the_signal_lands(capsys):
    gate, done = SignalGate(), []

    def body():
        with gate.held():
            os.kill(os.getpid(), signal.SIGTERM)
            done.append("the block's outputs")      # the block is never split
        done.append("not reached")
        return 0

    assert run_command("prog", body, gate) == EXIT_INTERRUPTED
    assert done == ["the block's outputs"]


def test_a_signal_during_a_failed_block_lands_at_the_next_block():
    gate = SignalGate()
    with gate.installed():
        with pytest.raises(ValueError):
            with gate.held():
                os.kill(os.getpid(), signal.SIGINT)
                raise ValueError("the block failed")
        with pytest.raises(KeyboardInterrupt):
            with gate.held():
                pass


def test_the_status_of_a_clean_run_is_the_bodys():
    assert run_command("prog", lambda: 0) == 0
    assert run_command("prog", lambda: 1) == 1


def test_a_muted_block_only_notes_and_a_live_block_inside_raises():
    gate = SignalGate()
    with gate.installed():
        with gate.muted():
            os.kill(os.getpid(), signal.SIGTERM)
            os.kill(os.getpid(), signal.SIGINT)         # however many come: the ending goes on
            assert gate.pending
            with pytest.raises(KeyboardInterrupt):       # a noted one raises as the work starts
                with gate.live():
                    pass
            assert not gate.pending
            with pytest.raises(KeyboardInterrupt):
                with gate.live():
                    os.kill(os.getpid(), signal.SIGINT)  # the work is interrupted
            os.kill(os.getpid(), signal.SIGTERM)         # muted again after the live block
        assert gate.take_pending() and not gate.pending


def test_an_insistent_hold_gives_way_to_a_second_signal():
    gate, steps = SignalGate(), []
    with gate.installed():
        with pytest.raises(KeyboardInterrupt):
            with gate.held(insistent=True):
                os.kill(os.getpid(), signal.SIGINT)
                steps.append("the first waits")
                os.kill(os.getpid(), signal.SIGINT)     # the user insists: at once
                steps.append("not reached")
        with pytest.raises(KeyboardInterrupt):
            with gate.held():                          # a plain hold waits for its end
                os.kill(os.getpid(), signal.SIGINT)
                os.kill(os.getpid(), signal.SIGINT)
                steps.append("the block ends")
    assert steps == ["the first waits", "the block ends"]
