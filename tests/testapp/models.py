from django.db import models


class Author(models.Model):
    name = models.CharField(max_length=150)
    email = models.EmailField(unique=True)
    age = models.PositiveIntegerField(null=True)
    points = models.IntegerField(default=0)


class Book(models.Model):
    title = models.TextField()
    isbn = models.CharField(max_length=13, unique=True, null=True)
    author = models.ForeignKey(Author, on_delete=models.CASCADE)
    tags = models.ManyToManyField("Tag")


class Tag(models.Model):
    label = models.SlugField(unique=True)
