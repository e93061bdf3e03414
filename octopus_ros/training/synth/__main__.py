"""python -m octopus_ros.training.synth --out data/default --seed 0 --config config/train/data.yaml"""
from .cli import main

if __name__ == "__main__":
    main()
