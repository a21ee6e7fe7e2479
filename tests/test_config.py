"""Tests of estimation.config: the CMU limb table and instance independence."""

import dataclasses

import pytest

from estimation.config import BodyPart, get_default_configuration


def test_body_parts_follow_cmu_order(cfg):
    assert [p.name for p in BodyPart][:3] == ["nose", "neck", "right_shoulder"]
    assert [p.name for p in BodyPart][-4:] == ["right_eye", "left_eye", "right_ear", "left_ear"]
    for part, meta in cfg.body_parts.items():
        assert meta.heatmap_idx == meta.slot_idx == int(part)
    assert cfg.body_parts_size() == 18


def test_limb_table_uses_cmu_paf_channels(cfg):
    by_parts = {(l.from_body_part, l.to_body_part): l for l in cfg.connection_types}
    neck_rsh = by_parts[(BodyPart.neck, BodyPart.right_shoulder)]
    assert (neck_rsh.paf_dx_idx, neck_rsh.paf_dy_idx) == (12, 13)
    neck_nose = by_parts[(BodyPart.neck, BodyPart.nose)]
    assert (neck_nose.paf_dx_idx, neck_nose.paf_dy_idx) == (28, 29)
    channels = sorted(c for l in cfg.connection_types for c in (l.paf_dx_idx, l.paf_dy_idx))
    assert channels == list(range(38))
    assert len(cfg.connection_types) == 19
    assert [l.name for l in cfg.connection_types if l.redundant] == [
        "right_shoulder-right_ear", "left_shoulder-left_ear"]


def test_configurations_share_no_mutable_state():
    a, b = get_default_configuration(), get_default_configuration()
    with pytest.raises(TypeError):
        a.body_parts[BodyPart.nose] = None
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.connection_types = ()
    assert a == b and a is not b
