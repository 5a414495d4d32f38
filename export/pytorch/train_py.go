package pytorch

// trainMain is the part of train.py that is the same for every train:
// distributed setup, the loop, evaluation and checkpoints. The generated
// part above it defines the loss functions and TRAINS.
const trainMain = `

# ---------------------------------------------------------------------
# The loop: the same for every train.


def setup(device_arg):
    """One process, or one rank of DistributedDataParallel when started by
    torchrun (or with RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT set):
    NCCL on CUDA, gloo on the CPU."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if device_arg == "cuda":
        local = int(os.environ.get("LOCAL_RANK", rank % max(torch.cuda.device_count(), 1)))
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", rank=rank, world_size=world)
    return rank, world, device


def make_optimizer(cfg, params):
    """One parameter group per parameter (named by its path), so a phase
    can freeze it (no gradient: torch.optim skips it and its step count
    stays, as in encc) or scale its rate (lr_scale)."""
    groups = [{"params": [p], "name": path} for path, p in params.items()]
    name = cfg["name"]
    if name == "SGD":
        return torch.optim.SGD(groups, lr=cfg["lr"], momentum=cfg["momentum"], dampening=cfg["dampening"],
                               nesterov=cfg["nesterov"], weight_decay=cfg["weight_decay"])
    if name in ("Adam", "AdamW"):
        cls = torch.optim.Adam if name == "Adam" else torch.optim.AdamW
        return cls(groups, lr=cfg["lr"], betas=(cfg["beta1"], cfg["beta2"]), eps=cfg["eps"], weight_decay=cfg["weight_decay"])
    if name == "RMSprop":
        return torch.optim.RMSprop(groups, lr=cfg["lr"], alpha=cfg["alpha"], eps=cfg["eps"], momentum=cfg["momentum"],
                                   weight_decay=cfg["weight_decay"])
    raise ValueError("no optimizer " + name)


def to_device(batch, device):
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


def evaluate(cfg, model, samples, device):
    """Loss and metrics on a split, in batches of the train's size."""
    model.eval()
    meter = None
    with torch.no_grad():
        for i in range(0, len(samples), cfg["batch"]):
            idx = list(range(i, min(i + cfg["batch"], len(samples))))
            batch = to_device(samples.take(idx), device)
            loss, pred = cfg["loss"](model, batch)
            labels = batch.get(cfg["label"]) if cfg["label"] else None
            if meter is None:
                classes = pred.shape[-1] if (labels is not None and pred is not None and cfg["metrics"]) else 0
                meter = es.Meter(cfg["metrics"], classes)
            meter.add(len(idx), loss.item(), pred, labels)
    model.train()
    return meter.values()


def checkpoint(cfg, name, model, opt, params, pos, metrics, path):
    """An encc checkpoint: weights and optimizer state by encc's names
    (encoder.fc1.weight:exp_avg), and the position, so encc eval reads
    it and encc run --resume continues it."""
    tensors = {k: v for k, v in model.state_dict().items()}
    for group in opt.param_groups:
        p = group["params"][0]
        st = opt.state.get(p, {})
        for key, val in st.items():
            if key == "step":
                val = torch.tensor(int(val), dtype=torch.int64)
            tensors[group["name"] + ":" + key] = val
    meta = dict(cfg["meta"])
    with open(os.path.join(HERE, "data", cfg["data"], "transform.json")) as f:
        meta["transform"] = f.read().strip()
    meta.update(train=name, phase=pos["phase"], epoch=pos["epoch"], batch=pos["batch"], step=pos["step"],
                epochs=sum(ph["epochs"] for ph in cfg["phases"]), seed=cfg["seed"],
                metrics=json.dumps({k: (None if v != v else v) for k, v in (metrics or {}).items()}),
                loss_sum=struct.pack(">d", pos["loss_sum"]).hex().lstrip("0") or "0", loss_n=pos["loss_n"])
    es.save_safetensors(path, tensors, meta)


def run(name, args, ctx, depth=0):
    """Trains TRAINS[name] as encc run does; returns its final metrics."""
    cfg = TRAINS[name]
    rank, world, device = ctx
    dep = cfg["from_"]
    if dep is not None and not os.path.exists(os.path.join(HERE, TRAINS[dep["train"]]["save"])):
        if rank == 0:
            print(f"{name}: running {dep['train']} first (from)", flush=True)
        run(dep["train"], args, ctx, depth + 1)

    torch.manual_seed(cfg["seed"])
    model = cfg["model"]().to(device)
    init = args.init if (args.init and depth == 0) else os.path.join(HERE, "init", name + ".safetensors")
    weights, _ = es.load_safetensors(init)
    model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in weights.items() if k in model.state_dict()}, strict=False)
    if dep is not None:
        got, _ = es.load_safetensors(os.path.join(HERE, TRAINS[dep["train"]]["save"]))
        sd = model.state_dict()
        for path in dep["only"]:
            sd[path].copy_(torch.from_numpy(got[path].copy()))
    data = os.path.join(HERE, "data", cfg["data"])
    train_set = es.ShardedSamples(data, "train")
    test_set = es.ShardedSamples(data, "test") if cfg["has_test"] else None
    sampler = es.EnccSampler(train_set, cfg["batch"], cfg["seed"], num_replicas=world, rank=rank)
    spe = len(sampler)
    total = sum(ph["epochs"] for ph in cfg["phases"])

    params = dict(model.named_parameters())
    opt = make_optimizer(cfg["optimizer"], params)
    step, epoch, metrics = 0, 0, None
    steps_log = open(args.log_steps, "a") if (args.log_steps and rank == 0 and depth == 0) else None
    save = args.save if (args.save and depth == 0) else os.path.join(HERE, cfg["save"] or ("runs/" + name + ".safetensors"))
    for ph in cfg["phases"]:
        for path, p in params.items():
            p.requires_grad_(path not in ph["frozen"])
        net = DDP(model) if world > 1 else model
        sched, span_start = ph["lr"], ph["span"][0] * spe
        span = (ph["span"][1] - ph["span"][0]) * spe
        if sched is None:
            sched, span_start, span = cfg["lr"], 0, total * spe
        for _ in range(ph["epochs"]):
            sampler.set_epoch(epoch)
            t0, seen, loss_sum = time.time(), 0, 0.0
            model.train()
            for b, (gbatch, idx) in enumerate(sampler):
                share = len(idx) / gbatch
                if not idx:  # a last batch smaller than the world: one sample, weight 0
                    idx = [0]
                batch = to_device(train_set.take(idx), device)
                lr = es.lr_at(sched, cfg["optimizer"]["lr"], step - span_start, span, spe)
                for g in opt.param_groups:
                    g["lr"] = lr * ph["lr_scale"].get(g["name"], 1.0)
                opt.zero_grad(set_to_none=True)
                loss, _ = cfg["loss"](net, batch)
                # Each rank's mean loss, weighted by its share of the global
                # batch; DDP averages over ranks: the global batch's mean.
                (loss * (share * world)).backward()
                if cfg["clip_grad_norm"] > 0:
                    torch.nn.utils.clip_grad_norm_([p for p in params.values() if p.grad is not None], cfg["clip_grad_norm"])
                opt.step()
                step += 1
                batch_loss = loss.detach() * share
                if world > 1:
                    dist.all_reduce(batch_loss)
                batch_loss = batch_loss.item()
                loss_sum += batch_loss * gbatch
                seen += gbatch
                if steps_log:
                    steps_log.write(json.dumps({"train": name, "phase": ph["name"], "epoch": epoch, "batch": b, "step": step, "lr": lr, "loss": batch_loss}) + "\n")
                    steps_log.flush()
                if args.max_steps and step >= args.max_steps and depth == 0:
                    if rank == 0:
                        pos = dict(phase=ph["name"], epoch=epoch, batch=b + 1, step=step, loss_sum=loss_sum, loss_n=seen)
                        if b + 1 == spe:
                            pos.update(epoch=epoch + 1, batch=0, loss_sum=0.0, loss_n=0)
                        checkpoint(cfg, name, model, opt, params, pos, metrics, save)
                        print(json.dumps({"train": name, "stopped_at_step": step, "checkpoint": save}), flush=True)
                    return metrics
            secs = time.time() - t0
            epoch += 1
            if rank == 0:
                metrics = evaluate(cfg, model, test_set, device) if test_set is not None else None
                report = {"train": name, "phase": ph["name"], "epoch": epoch, "epochs": total, "step": step,
                          "loss": loss_sum / max(seen, 1), "samples_per_sec": seen / max(secs, 1e-9), "seconds": secs}
                for k, v in (metrics or {}).items():
                    report["test_loss" if k == "loss" else k] = v
                print(json.dumps(report), flush=True)
                pos = dict(phase=ph["name"], epoch=epoch, batch=0, step=step, loss_sum=0.0, loss_n=0)
                checkpoint(cfg, name, model, opt, params, pos, metrics, save)
            if world > 1:
                dist.barrier()
    if rank == 0 and metrics is not None:
        print(name + ": test " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()) + f"; weights in {save}", flush=True)
    return metrics


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("train", nargs="?", default=DEFAULT, choices=sorted(TRAINS), help="the train to run (default %(default)s)")
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--init", help="initial weights (safetensors by parameter path) instead of init/TRAIN.safetensors")
    ap.add_argument("--save", help="checkpoint path instead of the train's save")
    ap.add_argument("--max-steps", type=int, default=0, help="stop after this many optimizer steps and save")
    ap.add_argument("--log-steps", help="append one JSON line per optimizer step (the global batch's loss) to this file")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    ctx = setup(args.device)
    try:
        run(args.train, args, ctx)
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


if __name__ == "__main__":
    main()
`
