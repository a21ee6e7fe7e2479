"""The networks: registry, runtimes (TensorFlow, float32 and int8 TFLite) and the one place the runtime is chosen, assets."""
