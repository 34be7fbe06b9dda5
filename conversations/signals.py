"""An image's files go when its row goes (deleting a conversation deletes them too)."""

from django.db.models.signals import post_delete
from django.dispatch import receiver

from conversations.images import delete_files
from conversations.models import Image


@receiver(post_delete, sender=Image)
def remove_image_files(sender: type[Image], instance: Image, **kwargs: object) -> None:
    delete_files(instance)
