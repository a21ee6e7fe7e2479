# The EAI Lab3 handout's demo_image.py, transcribed from ../shared/lab/handout.md
# ("demo_image.py 1. main()"); only the extraction's garbling is undone (spaces
# for underscores, "importlib.impo", "43 y"). The imports are the ones its body
# needs. tests/test_handout_demo.py runs it unchanged against our packages.
import importlib
import time

import cv2
import numpy as np
import tensorflow as tf

from estimation.config import get_default_configuration
from estimation.coordinates import get_coordinates
from estimation.connections import get_connections
from estimation.estimators import estimate
from estimation.renderers import draw


def main():
    from tf_netbuilder_ext.extensions import register_tf_netbuilder_extensions
    model_weights_path = "./model_weights/openpose"
    input_image = "./images/1.jpg"
    output_image = "output.png"
    register_tf_netbuilder_extensions()
    module = importlib.import_module("models")
    create_model = getattr(module, "create_openpose")
    model = create_model()
    model.load_weights(model_weights_path)
    img = cv2.imread(input_image)  # B,G,R order
    input_img = img[np.newaxis, :, :, [2, 1, 0]]
    inputs = tf.convert_to_tensor(input_img)
    outputs = model.predict(inputs)
    pafs = outputs[10][0, ...]
    heatmaps = outputs[11][0, ...]
    cfg = get_default_configuration()
    coordinates = get_coordinates(cfg, heatmaps)
    connections = get_connections(cfg, coordinates, pafs)
    # ↓ You can analsis the time of your algo. ↓ #
    x = time.time()
    skeletons = estimate(cfg, connections)
    y = time.time()
    print(y-x)  # Inference time
    output = draw(cfg, img, coordinates, skeletons, resize_fac=8)
    cv2.imwrite(output_image, output)


if __name__ == "__main__":
    main()
