"""`torch.hub` entry points: `torch.hub.load(REPO_DIR, 'mini_resnet', source='local', run=RUN_FOLDER)`."""
dependencies = ['torch', 'safetensors']


def mini_resnet(run=None, **kwargs):
    """A MiniResNet: the trained network of the finished run folder `run` (its `model.safetensors` and `config.json`),
    in eval mode; or, without `run`, a new one built from `kwargs` (`block`, `num_classes`, `widths`, `blocks_per_stage`)."""
    from resnet_study.model import MiniResNet
    return MiniResNet.from_run(run) if run is not None else MiniResNet(**kwargs)
