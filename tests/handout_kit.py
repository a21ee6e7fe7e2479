"""The handout's kit, transcribed line by line from its printed listings (a test oracle).

``../shared/lab/handout.md`` prints ``coordinates.py``, ``connections.py`` and
``estimators.py``; these are those loops as printed (names, order and the
``connections[k][i][2]`` of the row score included), kept apart from
``estimation.handout`` so the tests compare our kit with the handout, not
with itself. ``estimate`` returns the subset before ``merge`` (the printed
code calls ``merge(subset)`` last; the tests call it themselves).
"""

import math

import numpy as np


def get_coordinates(config, heatmaps, threshold=0.1):
    all_peaks = dict()
    peak_counter = 0
    for part_meta in config.body_parts.values():
        hmap = heatmaps[:, :, part_meta.heatmap_idx]
        hmap_right = np.zeros(hmap.shape)
        hmap_right[:, 1:] = hmap[:, :-1]
        hmap_left = np.zeros(hmap.shape)
        hmap_left[:, :-1] = hmap[:, 1:]
        hmap_down = np.zeros(hmap.shape)
        hmap_down[1:, :] = hmap[:-1, :]
        hmap_up = np.zeros(hmap.shape)
        hmap_up[:-1, :] = hmap[1:, :]
        peaks_binary = np.logical_and.reduce(
            (hmap >= hmap_right,
             hmap >= hmap_left,
             hmap >= hmap_down,
             hmap >= hmap_up,
             hmap > threshold))
        peaks = list(zip(np.nonzero(peaks_binary)[1],
                         np.nonzero(peaks_binary)[0]))
        sequence_numbers = range(peak_counter, peak_counter + len(peaks))
        peaks_with_score_and_id = [peak + (
            hmap[peak[1], peak[0]],
            seq_num) for peak, seq_num in zip(peaks, sequence_numbers)]
        all_peaks[part_meta.body_part.name] = peaks_with_score_and_id
        peak_counter += len(peaks)
    return all_peaks


def get_connections(config, coords, paf, threshold=0.05, mid_num=10, minimum_mid_num=8):
    all_cand_connections = []
    for conn in config.connection_types:
        paf_dx = paf[:, :, conn.paf_dx_idx]
        paf_dy = paf[:, :, conn.paf_dy_idx]
        cand_a = coords[conn.from_body_part.name]
        cand_b = coords[conn.to_body_part.name]
        n_a = len(cand_a)
        n_b = len(cand_b)
        max_connections = min(n_a, n_b)
        if n_a != 0 and n_b != 0:
            connection_candidates = np.zeros((0, 5))
            for i in range(n_a):
                for j in range(n_b):
                    vec = np.subtract(cand_b[j][:2], cand_a[i][:2])
                    norm = math.sqrt(vec[0] * vec[0] + vec[1] * vec[1])
                    if norm == 0:
                        continue
                    vec = np.divide(vec, norm)
                    start_end = list(zip(np.linspace(cand_a[i][0], cand_b[j][0], num=mid_num),
                                         np.linspace(cand_a[i][1], cand_b[j][1], num=mid_num)))
                    vec_x = np.array(
                        [paf_dx[int(round(start_end[i][1])), int(
                            round(start_end[i][0]))] for i in range(mid_num)])
                    vec_y = np.array(
                        [paf_dy[int(round(start_end[i][1])), int(
                            round(start_end[i][0]))] for i in range(mid_num)])
                    score_midpts = np.multiply(vec_x, vec[0]) + np.multiply(vec_y, vec[1])
                    total_score = sum(score_midpts) / len(score_midpts)
                    criterion1 = len(np.nonzero(score_midpts > threshold)[0]) > minimum_mid_num
                    criterion2 = total_score > 0
                    if criterion1 and criterion2:
                        connection_candidates = np.vstack(
                            [connection_candidates,
                             [cand_a[i][3],
                              cand_b[j][3],
                              cand_a[i][2],
                              cand_b[j][2],
                              total_score]])
            sorted_connections = connection_candidates[connection_candidates[:, 4].argsort()][::-1]
            all_cand_connections.append(sorted_connections[:max_connections, :])
        else:
            all_cand_connections.append([])
    return all_cand_connections


def estimate(config, connections):
    number_of_slots = config.body_parts_size() + 2
    subset = np.empty((0, number_of_slots))
    for k, conn in enumerate(config.connection_types):
        if len(connections[k]) > 0:
            part_a = connections[k][:, [0, 2]]  # idA, scoreA
            part_b = connections[k][:, [1, 3]]  # idB, scoreB
            slot_idx_a = config.body_parts[conn.from_body_part].slot_idx
            slot_idx_b = config.body_parts[conn.to_body_part].slot_idx
            for i in range(len(connections[k])):
                found = 0
                slot_idx = [-1, -1]
                for j in range(len(subset)):
                    if subset[j][slot_idx_a] == part_a[i, 0] and \
                            subset[j][slot_idx_b] == part_b[i, 0]:
                        slot_idx[found] = j
                        found += 1
                if not found:
                    row = -1 * np.ones(number_of_slots)
                    row[slot_idx_a] = part_a[i, 0]
                    row[slot_idx_b] = part_b[i, 0]
                    row[-1] = 2
                    row[-2] = part_a[i, 1] + part_b[i, 1] + connections[k][i][2]
                    subset = np.vstack([subset, row])
    return subset
