"""Model training support: the synthetic conveyor-frame generator and torch training.

numpy/OpenCV only: synth (and belt, parcel, damage, camera, brush), frameset, and the
onnxruntime side: quantize, evaluate. torch (the ``train`` extra): nets, data, train, export,
pipeline. cli (``beltwatch model ...``) imports typer only and loads the rest per command.
Importing this package never imports torch, because the simulator and the demo use the
generator without the ``train`` extra.
"""
