"""Compatibility shim for the EAI Lab3 demo: ``tf_netbuilder_ext`` without tf_netbuilder.

The lab's ``demo_image.py`` starts with::

    from tf_netbuilder_ext.extensions import register_tf_netbuilder_extensions
    register_tf_netbuilder_extensions()

In the lab kit that registers tf_netbuilder's custom layers so that its
network description can be built. Our ``models.create_openpose()`` is plain
Keras (``models/vgg.py``) and loads the same checkpoint without those layers,
so the registration has nothing to do; this package exists only so that the
handout's demo runs unchanged from the project root.
"""
